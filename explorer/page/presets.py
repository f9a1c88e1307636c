"""Examples that each teach one thing, with a line on what to notice."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    x: str
    layers: str
    note: str
    # The Train section's settings this example comes with ("": the section's defaults, lr 0.1, 20 steps, sgd).
    lr: str = ""
    steps: str = ""
    optimizer: str = ""


PRESETS = (
    Preset(
        "two_layers",
        "Notebook: y = 3x + 2, z = 2y² on a 2×3 matrix",
        "[[1., 2, 3], [3, 2, 1]]",
        "y = 3*x + 2\nz = 2*y**2",
        "The chain rule gives dz/dx = 4y·3 = 12(3x+2): x.grad is 60, 96, 132 for sum and ones_like; "
        "the mean divides by the 6 elements: 10, 16, 22.",
    ),
    Preset(
        "polynomial",
        "Notebook: 2x⁴ + x³ + 3x² + 5x + 1 at x = 2",
        "2.0",
        "y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1",
        "One scalar: y = 63 and the slope y' = 8x³ + 3x² + 6x + 5 = 93. For a scalar, sum, mean and ones_like agree.",
    ),
    Preset(
        "sigmoid",
        "Sigmoid: the slope σ(1 − σ)",
        "[-4., -1, 0, 1, 4]",
        "y = sigmoid(x)",
        "The gradient peaks at 0.25 where x = 0 and fades on both sides: σ'(x) = σ(x)(1 − σ(x)).",
    ),
    Preset(
        "tanh_saturation",
        "tanh saturation: vanishing gradients",
        "[-6., -2, 0, 2, 6]",
        "y = 2*x\nz = tanh(y)",
        "Far from 0, tanh is flat: at x = ±2 the gradient is 2·(1 − tanh²(4)) ≈ 0.0027, and at ±6 "
        "float32 rounds 1 − tanh²(12) to exactly 0.",
    ),
    Preset(
        "quadratic_loss",
        "Quadratic loss: (prediction − target)²",
        "[0.5, 1.5, 2.5]",
        "prediction = 2*x + 1\nerror = prediction - 4\nloss = error**2",
        "The gradient 2·error·2 points away from the target; with mean, each element's share is divided by 3.",
    ),
    Preset(
        "exp_log",
        "exp and log undo each other",
        "[0.5, 1., 2]",
        "y = exp(x)\nz = log(y)",
        "z = x, so every gradient is 1 (or 1/3 under mean): the chain rule multiplies exp(x) by 1/exp(x).",
    ),
    Preset(
        "reuse",
        "A DAG: one layer used twice",
        "[1., 2, 3]",
        "y = x**2\nz = y*x + y",
        "y feeds z twice (and x directly): autograd adds the paths, dz/dx = 3x² + 2x.",
    ),
    Preset(
        "division",
        "Division: the quotient rule",
        "[1., 2, 4]",
        "y = x + 1\nz = x / y",
        "dz/dx = (y − x)/y² = 1/(x+1)²: DivBackward0 sends a gradient to both x and y.",
    ),
    Preset(
        "relu_kink",
        "ReLU's kink at 0",
        "[-1., 0, 1]",
        "y = relu(x)\nz = 3*y",
        "The slope is 0 left of the kink, 3 right of it, and PyTorch picks 0 at exactly 0.",
    ),
    Preset(
        "sin_exp",
        "Product rule: sin(x)·exp(x)",
        "0.5",
        "y = sin(x)*exp(x)",
        "d/dx sin·exp = (cos x + sin x)·exp x ≈ 2.2373 at 0.5.",
    ),
    Preset(
        "neuron",
        "micrograd's neuron: tanh(x·w + b)",
        "[2.0, 0.0]",
        "w = [-3.0, 1.0]\nb = 6.8813735870195432\no = tanh(x @ w + b)",
        "o = tanh(2·(−3) + 0·1 + 6.88) = 0.7071, so do/dn = 1 − o² = 0.5: x.grad = 0.5·w = [−1.5, 0.5], "
        "w.grad = 0.5·x = [1.0, 0.0] and b.grad = 0.5, as in micrograd's lecture.",
    ),
    Preset(
        "linear_mse",
        "A linear layer, tanh and an MSE loss",
        "[1.0, 2.0]",
        "W = [[0.1, 0.2], [0.3, 0.4]]\nb = [0.0, 0.1]\nh = tanh(W @ x + b)\n"
        "target = detach([0.0, 1.0])\nloss = mean((h - target)**2)",
        "The target is detached: a constant, no gradient. dloss/dh = h − target (the mean's 1/2 cancels the 2), "
        "then tanh's 1 − h², then W.grad is that outer x, and b.grad is that vector itself.",
    ),
    Preset(
        "softmax_cross_entropy",
        "Softmax cross-entropy on W @ x",
        "[1.0, 2.0]",
        "W = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]\ns = W @ x\np = exp(s) / sum(exp(s))\n"
        "loss = -log(sum(p * detach([0., 1., 0.])))",
        "The scores s are 1, 2, 3 and the right class is the second. dloss/ds = p − onehot, the famous "
        "softmax gradient: W.grad is its outer product with x.",
    ),
    Preset(
        "shared_bias",
        "A broadcast bias shared by two layers",
        "[[1., 2, 3], [3, 2, 1]]",
        "b = [0.1, 0.2, 0.3]\nh = 2*x + b\ny = h*h + b",
        "b has shape (3,) and is added to every row of x (broadcasting), in two layers: its gradient sums "
        "over the rows and over both uses: b.grad_j = Σ_i (2·h_ij·1 + 1).",
    ),
)

TRAINING_PRESETS = (
    Preset(
        "tanh_net",
        "Training: a two-layer tanh net on four examples",
        "[[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]",
        "W1 = [[0.1, -0.2, 0.3, 0.0], [0.2, 0.1, -0.1, 0.3], [-0.3, 0.2, 0.1, -0.1]]\n"
        "W2 = [0.2, -0.1, 0.3, 0.1]\n"
        "h = tanh(x @ W1)\n"
        "pred = tanh(h @ W2)\n"
        "loss = (pred - detach([1.0, -1.0, -1.0, 1.0]))**2",
        "micrograd's lecture in tensors: four examples (the rows of x) with targets 1, −1, −1, 1, a 3→4→1 tanh "
        "net and a squared loss. Open Train: 40 steps of SGD at lr 0.1 take the loss (sum) from 3.72 to 0.011.",
        lr="0.1", steps="40", optimizer="sgd",
    ),
    Preset(
        "descent",
        "Gradient descent: (x − 3)² down to 3",
        "0.0",
        "loss = (x - 3)**2",
        "With no leaves, Train moves x itself: each SGD step is x −= 0.1·2(x − 3), a fifth of the way to 3, so "
        "30 steps reach 2.9963. The second derivative is 2 everywhere: the parabola is the curve, and Newton's "
        "step x − g/h lands on 3 at once.",
        lr="0.1", steps="30", optimizer="sgd",
    ),
    Preset(
        "divergence",
        "Too large a learning rate diverges",
        "0.0",
        "loss = (x - 3)**2",
        "The same loss at lr 1.5: each step jumps past 3 to twice the distance (x − 3 becomes −2(x − 3)), the "
        "loss grows 4× a step and turns inf at step 63. Here any lr above 1 = 2/h diverges.",
        lr="1.5", steps="100", optimizer="sgd",
    ),
)
PRESETS = PRESETS + TRAINING_PRESETS

BY_KEY = {preset.key: preset for preset in PRESETS}
BY_TITLE = {preset.title: preset for preset in PRESETS}
DEFAULT = PRESETS[0]
