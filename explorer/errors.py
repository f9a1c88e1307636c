"""The one exception every bad input raises."""


class FormulaError(ValueError):
    """Bad user input, with where it is: `line 2, col 5: unknown name 'q' (known: x, y)`.

    `field` is "x" or "layers"; `line` and `col` count from 1, or are None
    when the problem is the whole text (too long, empty).
    """

    def __init__(self, message, *, field="layers", line=None, col=None):
        self.message = message
        self.field = field
        self.line = line
        self.col = col
        super().__init__(self._place() + message)

    def _place(self):
        where = "x: " if self.field == "x" else ""
        if self.line is not None and self.col is not None:
            where += f"line {self.line}, col {self.col}: "
        elif self.line is not None:
            where += f"line {self.line}: "
        return where
