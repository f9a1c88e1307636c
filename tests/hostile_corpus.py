"""Hostile and malformed inputs for explorer.explore, grouped by class.

Each entry is (class, x_text, layers_text, expected):
  expected is "ok"     -> explore returns a result (inf and nan in it are fine),
              "error"  -> explore raises FormulaError,
              ("error", "text") -> FormulaError whose message contains "text".

Policies the corpus pins down:
  * Line ends: CRLF is read as LF in both fields; a lone CR is refused (U+000D).
  * Tabs are whitespace in both fields; indentation before a layer is ignored.
  * x follows Python list syntax: a trailing comma inside brackets ("[1, 2,]")
    is accepted, an empty slot ("[1,,2]") and a bare tuple ("1, 2") are not.
  * Non-finite *results* are legitimate (1/(x-x), log of a negative): explore
    returns them with warnings. Non-finite *inputs* (1e999, nan) are refused.
"""

from explorer.engine import limits

X = "[[1, 2, 3], [3, 2, 1]]"
L = "y = 3*x + 2\nz = 2*y**2"

CODE = "code-escape"
RES = "resource"
XF = "x-field"
UNI = "unicode"
NAME = "names"
NONFIN = "non-finite-ok"

CORPUS = [
    # ------------------------------------------------------------ code-escape attempts
    # The classic sandbox escape: attribute walks to object.__subclasses__().
    (CODE, X, "y = ().__class__.__bases__[0].__subclasses__()", "error"),
    # Attribute access on x itself must not reach the tensor's methods.
    (CODE, X, "y = x.__class__", ("error", "attribute")),
    (CODE, X, "y = sin.__globals__", ("error", "attribute")),
    (CODE, X, "y = x.numpy()", "error"),
    # Lambdas, and calling something that is not a bare whitelisted name.
    (CODE, X, "y = lambda: x", ("error", "lambda")),
    (CODE, X, "y = (lambda: x)()", ("error", "only the listed functions")),
    (CODE, X, "y = sin(x)(x)", ("error", "only the listed functions")),
    # Comprehensions and generator expressions run code per element.
    (CODE, X, "y = [t for t in (x,)]", ("error", "comprehensions")),
    (CODE, X, "y = sum(t for t in x)", ("error", "comprehensions")),
    # f-strings and str.format can walk attributes inside the format spec.
    (CODE, X, 'y = f"{x.__class__}"', ("error", "strings")),
    (CODE, X, 'y = "{0.__class__}".format(x)', ("error", "strings")),
    # The walrus binds names behind the parser's back.
    (CODE, X, "y = (z := x)", ("error", ":=")),
    # Subscripts index into anything, including __subclasses__() results.
    (CODE, X, "y = x[0]", ("error", "subscripts")),
    # Keyword, starred and double-starred arguments.
    (CODE, X, "y = sin(input=x)", ("error", "exactly one argument")),
    (CODE, X, "y = sin(*x)", ("error", "exactly one argument")),
    (CODE, X, "y = sin(**x)", ("error", "exactly one argument")),
    (CODE, X, "y = exp(x, x)", ("error", "exactly one argument")),
    (CODE, X, "y = sin()", ("error", "exactly one argument")),
    # Strings and bytes are data Python would happily hand to eval.
    (CODE, X, "y = 'x'", ("error", "line 1, col 5: strings are not allowed")),
    (CODE, X, "y = b'x'", ("error", "strings")),
    # Python constants that are not numbers.
    (CODE, X, "y = None", ("error", "None is not allowed")),
    (CODE, X, "y = True", ("error", "booleans")),
    (CODE, X, "y = ...", ("error", "not allowed")),
    # Statements that are not a single assignment.
    (CODE, X, "import os", ("error", "one assignment")),
    (CODE, X, "y = x; import os", ("error", "one assignment per line")),
    (CODE, X, "del x", ("error", "one assignment")),
    (CODE, X, "breakpoint()", ("error", "one assignment")),
    (CODE, X, "y += x", ("error", "one assignment")),
    (CODE, X, "y = z = x", ("error", "one assignment")),
    (CODE, X, "y: int = x", ("error", "one assignment")),
    (CODE, X, "y, z = x, x", ("error", "left side")),
    (CODE, X, "x.y = 2", ("error", "left side")),
    # Calls outside the whitelist, by name.
    (CODE, X, "y = __import__(x)", ("error", "unknown function '__import__'")),
    (CODE, X, "y = eval(x)", ("error", "unknown function 'eval'")),
    (CODE, X, "y = getattr(x, x)", ("error", "unknown function 'getattr'")),
    (CODE, X, "y = globals()", ("error", "unknown function 'globals'")),
    (CODE, X, "y = print", ("error", "unknown name 'print'")),
    # Operators outside + - * / ** and the rest of Python's expression grammar.
    (CODE, X, "y = x @ x", ("error", "x @ x: shapes (2, 3) and (2, 3): inner dimensions 3 and 2 differ")),
    (CODE, X, "y = x // 2", ("error", "'//'")),
    (CODE, X, "y = ~x", ("error", "'~'")),
    (CODE, X, "y = not x", ("error", "'not'")),
    (CODE, X, "y = x if x else x", ("error", "if ... else")),
    (CODE, X, "y = x < 1", ("error", "comparisons")),
    (CODE, X, "y = x and x", ("error", "and")),
    (CODE, X, "y = {x: x}", ("error", "dicts")),
    (CODE, X, "y = (x, x)", ("error", "tuples")),
    (CODE, X, "y = yield x", "error"),
    (CODE, X, "y = await x", ("error", "await")),
    # A backslash continues the line into the next one.
    (CODE, X, "y = x \\\n+ 1", ("error", "backslash")),
    # Complex numbers are numbers to Python, not to the explorer.
    (CODE, X, "y = 1j*x", ("error", "complex")),
    # A number run into a letter: Python's tokenizer would warn on the server's stderr.
    (CODE, X, "y = 1if x else 2", ("error", "'1if' is not a number")),
    (CODE, X, "y = 2x", ("error", "write 2*x")),
    (CODE, X, "y = 1.5.real", ("error", "not a number")),
    (CODE, X, "y = 0x1for", ("error", "not a number")),
    # ------------------------------------------------------------ resource exhaustion
    # Exponent towers: Python's bigint power would hold the GIL for hours.
    (RES, X, "y = 9**9**9", ("error", "exponent")),
    (RES, X, "y = 10**10**10", ("error", "exponent")),
    (RES, X, "y = 7**(7**8)", ("error", "exponent")),
    (RES, X, "y = x**-9**9", ("error", "exponent")),
    (RES, X, "y = 2**2**2**2**2", ("error", "exponent")),
    (RES, X, "y = x**(2**7)", ("error", "line 1, col 9: exponent")),
    # Constant exponents must be finite numbers too (sympy would meet zoo or I*pi).
    (RES, X, "y = x**log(-1)", ("error", "exponent is nan")),
    (RES, X, "y = x**(1/0)", ("error", "exponent")),
    # Long literals: digits are counted before any conversion.
    (RES, X, "y = " + "9" * 300, ("error", "300 digits")),
    (RES, X, "y = " + "9" * 5000, ("error", "limit is")),
    (RES, X, "y = 0x" + "f" * 350, ("error", "digits")),
    (RES, X, "y = 1e999", ("error", "outside")),
    (RES, X, "y = 1e10*x", ("error", "outside")),
    # Brackets: at the limit is fine, one more is refused, 201 never reaches ast.parse.
    (RES, X, "y = " + "(" * limits.MAX_BRACKET_DEPTH + "x" + ")" * limits.MAX_BRACKET_DEPTH, "ok"),
    (RES, X, "y = " + "(" * (limits.MAX_BRACKET_DEPTH + 1) + "x" + ")" * (limits.MAX_BRACKET_DEPTH + 1),
     ("error", "brackets nest deeper")),
    (RES, X, "y = " + "[" * 201 + "x" + "]" * 201, ("error", "limit is")),
    (RES, X, "y = " + "(" * 150 + "x" + ")" * 150, ("error", "brackets nest deeper")),
    # Brackets in a comment are not code.
    (RES, X, "y = x  # " + "(" * 100, "ok"),
    # Nesting without brackets: long operator chains.
    (RES, X, "y = " + "x+" * 499 + "x", ("error", "limit is")),
    (RES, X, "y = " + "x+" * 999 + "x", ("error", "limit is")),
    (RES, X, "y = " + "-" * 100_000 + "x", ("error", "limit is")),
    (RES, X, "y = " + "-" * 390 + "x", ("error", "nests deeper")),
    (RES, X, "y = " + "x**" * 100 + "x", ("error", "nests deeper")),
    (RES, X, "y = " + "sin(" * 24 + "x" + ")" * 24, ("error", "nests deeper")),
    (RES, X, "y = " + "+".join(["x*x"] * 60), ("error", "parts")),
    # Too many layers, too many parts across layers, too long a line or text.
    (RES, X, "\n".join(f"y{i} = x" for i in range(limits.MAX_LAYERS + 1)),
     ("error", f"line {limits.MAX_LAYERS + 1}: more than")),
    (RES, X, "\n".join(f"y{i} = x" for i in range(limits.MAX_LAYERS)), "ok"),
    (RES, X, "\n".join(f"y{i} = " + "+".join(["sin(x)*x"] * 8) for i in range(12)), ("error", "parts in all")),
    (RES, X, "y = x  # " + "a" * 400, ("error", "line 1: line is")),
    (RES, X, "# c\n" * 1001 + "y = x", ("error", "4,000")),
    (RES, X, "\n" * 3990 + "y = x", "ok"),
    # Element-operations budget: a big x times a long formula.
    (RES, "[" + "1," * 99_999 + "1]", "y = " + "+".join(["sin(x)"] * 12), ("error", "element-operations")),
    (RES, "[" + "1," * 99_999 + "1]", "y = 3*x + 2\nz = 2*y**2", "ok"),
    # A megabyte of trailing spaces once made x's tokenizer quadratic (hours).
    (RES, "1" + " " * 999_000, L, "ok"),
    (RES, "[" + " " * 999_000, L, ("error", "never closed")),
    # ------------------------------------------------------------ the x field
    (XF, "[[1, 2], [3]]", L, ("error", "ragged")),
    (XF, "[1, [2]]", L, ("error", "ragged")),
    (XF, "'1'", L, ("error", "x: line 1, col 1: unexpected")),
    (XF, "True", L, ("error", "unexpected 'T'")),
    (XF, "1+2j", L, "error"),
    (XF, "1e999", L, ("error", "outside")),
    (XF, "NaN", L, "error"),
    (XF, "[1, nan]", L, ("error", "col 5")),
    (XF, "Infinity", L, "error"),
    (XF, "-inf", L, "error"),
    (XF, "\uff12", L, ("error", "U+FF12")),  # full-width digit two: float() would accept it
    (XF, "\u0663", L, ("error", "U+0663")),  # Arabic-Indic three: float() would accept it
    (XF, "1_000", L, "error"),  # float() accepts underscores
    (XF, "0x10", L, "error"),
    (XF, "[" + "1," * limits.MAX_X_ELEMENTS + "1]", L, ("error", "elements")),
    (XF, "[[[[[1]]]]]", L, ("error", "deeper than")),
    (XF, "[[[[1]]]]", L, "ok"),
    (XF, "[" * 100_000, L, ("error", "deeper than")),
    (XF, "", L, ("error", "empty")),
    (XF, " \n\t ", L, ("error", "empty")),
    (XF, "[]", L, ("error", "empty")),
    (XF, "[[], []]", L, ("error", "empty")),
    (XF, "[1, 2", L, ("error", "never closed")),
    (XF, "1]", L, ("error", "unmatched")),
    (XF, "[1,,2]", L, ("error", "col 4: unexpected ','")),
    (XF, "[1 2]", L, ("error", "missing comma")),
    (XF, "[1, 2,]", L, "ok"),  # trailing comma: accepted, as in Python
    (XF, "1, 2", L, ("error", "unexpected ','")),
    (XF, "1,", L, ("error", "unexpected ','")),
    (XF, "--1", L, "error"),
    (XF, "[[1, 2],\r\n [3, 4]]", L, "ok"),
    (XF, "[1,\t2]", L, "ok"),
    (XF, "[1,\n2,\n3e]", L, ("error", "line 3")),
    (XF, "0." + "1" * 40, L, ("error", "too long")),
    (XF, "1" * (limits.MAX_X_CHARS + 1), L, ("error", "1,000,000")),
    (XF, "[1e9, -1e9, .5, 5., 1E-3, +2]", L, "ok"),
    (XF, "[1.0000001e9]", L, ("error", "outside")),
    (XF, "2 # two", L, ("error", "unexpected '#'")),
    (XF, "1\x00", L, ("error", "U+0000")),
    # ------------------------------------------------------------ unicode look-alikes and control characters
    (UNI, X, "y = \uff58", ("error", "U+FF58")),  # full-width x
    (UNI, X, "y = \u0445", ("error", "U+0445")),  # Cyrillic small ha looks exactly like x
    (UNI, X, "y = x\u00b2", ("error", "U+00B2")),  # superscript two
    (UNI, X, "y = x \u2212 1", ("error", "write '-'")),  # minus sign
    (UNI, X, "y = x \u00d7 2", ("error", "U+00D7")),  # multiplication sign
    (UNI, X, "y = x\u200b", ("error", "U+200B")),  # zero-width space: invisible
    (UNI, X, "y = x \u202e+ 1", ("error", "U+202E")),  # bidi override: the text shows reordered
    (UNI, X, "y =\u00a0x", ("error", "U+00A0")),  # no-break space
    (UNI, X, "\ufeffy = x", ("error", "U+FEFF")),  # byte-order mark pasted from a file
    (UNI, X, "y = x \U0001f600", ("error", "U+1F600")),
    (UNI, X, "y = x\ud800", ("error", "U+D800")),  # lone surrogate: not even encodable
    (UNI, X, "y = x\nz = \uff59", ("error", "line 2, col 5")),
    (UNI, X, "y =\tx\n\tz = y", "ok"),
    (UNI, X, "y = 3*x + 2\r\nz = 2*y**2\r\n", "ok"),  # CRLF is read as LF
    (UNI, X, "y = x\rz = y", ("error", "U+000D")),  # a lone CR is refused
    (UNI, X, "y = x\x0c", ("error", "U+000C")),
    (UNI, X, "y = x\x00", ("error", "U+0000")),
    (UNI, X, "y = x\x1b[31m", ("error", "U+001B")),  # terminal escape into server logs
    # ------------------------------------------------------------ names
    (NAME, X, "x = 2", ("error", "'x' is the input")),
    (NAME, X, "sin = x", ("error", "function or constant")),
    (NAME, X, "pi = x", ("error", "function or constant")),
    (NAME, X, "y = x\ny = 2*x", ("error", "line 2, col 1: 'y' is already defined")),
    (NAME, X, "_y = x", ("error", "'_'")),
    (NAME, X, "__class__ = x", ("error", "'_'")),
    (NAME, X, "if = x", ("error", "syntax error")),
    (NAME, X, "lambda = x", ("error", "syntax error")),
    (NAME, X, "None = x", ("error", "syntax error")),
    (NAME, X, "True = x", ("error", "syntax error")),
    (NAME, X, "y = q", ("error", "line 1, col 5: unknown name 'q' (known: x)")),
    (NAME, X, "y = y", ("error", "unknown name 'y'")),
    (NAME, X, "z = y\ny = x", ("error", "line 1, col 5: unknown name 'y'")),
    (NAME, X, "y = sin", ("error", "is a function")),
    (NAME, X, "a" * 25 + " = x", ("error", "at most")),
    (NAME, X, "a" * 24 + " = x", "ok"),
    (NAME, X, "print = x", "ok"),  # a harmless name: never looked up in Python
    (NAME, X, "match = x\ntype = match", "ok"),  # soft keywords are plain names
    (NAME, X, "Y = x\ny = Y", "ok"),
    (NAME, X, "y = e**x + pi", "ok"),
    (NAME, X, "  y = x  # indented, with a comment", "ok"),
    (NAME, X, "# only a comment", ("error", "no layers")),
    (NAME, X, "", ("error", "no layers")),
    # ------------------------------------------------------------ non-finite results are legitimate
    (NONFIN, X, "y = 1/(x-x)", "ok"),
    (NONFIN, "1", "y = log(x-5)", "ok"),
    (NONFIN, X, "y = 2", "ok"),  # constant: zero grads (checked in test_hostile)
    (NONFIN, X, "y = sqrt(-x)", "ok"),
    (NONFIN, "10", "y = exp(exp(exp(x)))", "ok"),
    (NONFIN, X, "y = 1e9**10", "ok"),  # constant 1e90 overflows float32: inf, not a torch RuntimeError
    (NONFIN, X, "y = (1e9**10)*x", "ok"),
    (NONFIN, X, "y = x**100*1e9", "ok"),
    (NONFIN, X, "y = x/0", "ok"),
    (NONFIN, X, "y = 0*log(x-x)", "ok"),
    (NONFIN, X, "y = (-8)**(1/3) + x", "ok"),
    (NONFIN, X, "y = exp(1000) + x", "ok"),
    (NONFIN, "0", "y = x**-1", "ok"),
    (NONFIN, X, L, "ok"),
]
