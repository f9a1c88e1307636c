"""The one exception every bad input raises."""


class FormulaError(ValueError):
    """Bad user input, with where it is: `line 2, col 5: unknown name 'q' (known: x, y)`.

    `field` is the input at fault: "x", "layers", "vector" (explore's gradient vector) or "jacobian" (a leaf
    name or tangent given to jacobian or jvp). `line` and `col` count from 1, or are None
    when the problem is the whole text (too long, empty). The message is one
    line: line breaks in it (from a library's error text) become spaces.
    """

    def __init__(self, message, *, field="layers", line=None, col=None):
        self.message = " ".join(str(message).splitlines())
        self.field = field
        self.line = line
        self.col = col
        super().__init__(self._place() + self.message)

    def _place(self):
        where = "" if self.field == "layers" else f"{self.field}: "  # a formula's place is its line
        if self.line is not None and self.col is not None:
            where += f"line {self.line}, col {self.col}: "
        elif self.line is not None:
            where += f"line {self.line}: "
        return where

    def __reduce__(self):
        # Keyword-only arguments: the default pickling, cls(*args), would lose field, line and col
        # on the way back from a worker process.
        return _rebuild, (type(self), self.message, self.field, self.line, self.col)


def _rebuild(cls, message, field, line, col):
    return cls(message, field=field, line=line, col=col)
