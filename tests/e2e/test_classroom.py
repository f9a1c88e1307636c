"""Issue 10, the classroom screen: what the page shows agrees with its state, read as a teacher reads it.

Most tests open the page from a link, at the two widths a classroom uses (1400 and 1024 wide), in light
and dark theme. Colours are checked as WCAG contrast ratios of what Chromium computed, never by eye.
"""

import re
import shutil
import subprocess
import sys
from urllib.parse import urlencode

import pytest

from tests.harness import screenshot, wait_idle, wait_text

GRAPH = '[data-testid="stGraphVizChart"] svg'
PLOT = '[data-testid="stPlotlyChart"]'
HIGHLIGHT = f"{GRAPH} polygon[fill='#ffb347']"
TWO_LAYERS = {"x": "[[1., 2, 3], [3, 2, 1]]", "layers": "y = 3*x + 2\nz = 2*y**2"}  # the default preset


def link(server, **params):
    return server + "/?" + urlencode(params)


# ---------------------------------------------------------------- colour arithmetic (WCAG 2.1)


def rgba(css):
    """`rgb(1, 2, 3)` or `rgba(1, 2, 3, 0.5)` as four floats; 'none' as fully transparent."""
    if css in ("none", "transparent"):
        return (0.0, 0.0, 0.0, 0.0)
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    assert len(numbers) in (3, 4), f"not a computed colour: {css!r}"
    return (*numbers[:3], numbers[3] if len(numbers) == 4 else 1.0)


def over(top, bottom):
    """`top` painted with its alpha over an opaque `bottom`."""
    alpha = top[3]
    return tuple(alpha * t + (1 - alpha) * b for t, b in zip(top[:3], bottom[:3], strict=True)) + (1.0,)


def luminance(colour):
    def channel(value):
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_arithmetic_matches_known_pairs():
    assert contrast(rgba("rgb(0, 0, 0)"), rgba("rgb(255, 255, 255)")) == pytest.approx(21)
    assert contrast(rgba("rgb(119, 119, 119)"), rgba("rgb(255, 255, 255)")) == pytest.approx(4.48, abs=0.01)
    assert over(rgba("rgba(255, 255, 255, 0.5)"), rgba("rgb(0, 0, 0)"))[:3] == (127.5, 127.5, 127.5)


# ---------------------------------------------------------------- reading the page

NODE_COLOURS = """(graph) => {
  const svg = document.querySelector(graph);
  const paper = svg.querySelector('g.graph > polygon');
  return [...svg.querySelectorAll('g.node')].map(node => {
    const shape = node.querySelector('polygon, ellipse, path');
    return {
      label: [...node.querySelectorAll('text')].map(t => t.textContent).join(' ').trim(),
      fill: getComputedStyle(shape).fill,
      paper: paper ? getComputedStyle(paper).fill : 'rgb(255, 255, 255)',
      texts: [...node.querySelectorAll('text')].map(t => getComputedStyle(t).fill),
    };
  });
}"""


def node_contrasts(page):
    """(label, contrast of its text on its fill) for every node of the graph."""
    page.wait_for_selector(f"{GRAPH} g.node")
    found = []
    for node in page.evaluate(NODE_COLOURS, GRAPH):
        paper = rgba(node["paper"])
        background = over(rgba(node["fill"]), paper)
        for text in node["texts"]:
            found.append((node["label"], contrast(over(rgba(text), background), background)))
    return found


def graph_text(page):
    page.wait_for_selector(f"{GRAPH} g.node")
    return page.locator(GRAPH).first.text_content()


def main_text(page):
    return page.locator('[data-testid="stMain"]').inner_text()


def plot_title(page):
    page.wait_for_selector(f"{PLOT} .gtitle", state="attached")
    return page.locator(f"{PLOT} .gtitle").first.text_content()


def box(locator):
    found = locator.bounding_box()
    assert found is not None, "the element is not drawn"
    return found


def overlap(a, b):
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


# Each number of the page's code blocks, and how many lines Chromium laid it out on.
NUMBER_LINES = r"""() => {
  const found = [];
  for (const code of document.querySelectorAll('[data-testid="stMain"] [data-testid="stCode"] code')) {
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const pieces = [];
    let text = '';
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      pieces.push([node, text.length]);
      text += node.data;
    }
    const at = (offset) => {
      let i = pieces.length - 1;
      while (pieces[i][1] > offset) i -= 1;
      return [pieces[i][0], offset - pieces[i][1]];
    };
    for (const match of text.matchAll(/-?\d+\.?\d*(?:e[+-]\d+)?/g)) {
      const range = document.createRange();
      range.setStart(...at(match.index));
      range.setEnd(...at(match.index + match[0].length - 1));
      range.setEnd(range.endContainer, range.endOffset + 1);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      found.push([match[0], tops.size]);
    }
  }
  return found;
}"""


# ---------------------------------------------------------------- 1. plain torchviz


def test_plain_torchviz_nodes_are_readable_and_all_labelled(open_page, server):
    page = open_page(link(server, plain_graph="true"))
    contrasts = node_contrasts(page)
    screenshot(page, "classroom_plain_graph")
    unreadable = [(label, round(ratio, 2)) for label, ratio in contrasts if ratio < 4.5]
    assert not unreadable, f"node text below 4.5:1 on its fill: {unreadable}"
    labels = [node["label"] for node in page.evaluate(NODE_COLOURS, GRAPH)]
    assert len(labels) == 8, "x, AccumulateGrad, four ops, the sum, the output"
    assert all(re.search(r"[A-Za-z]", label) for label in labels), f"a node with no name: {labels}"


# ---------------------------------------------------------------- 3. a link's backward step


def test_a_links_backward_step_highlights_its_node_on_first_load(open_page, server):
    page = open_page(link(server, backward_step=3, reduction="mean"))
    wait_text(page, "step 3 of 6: PowBackward0")
    page.wait_for_selector(HIGHLIGHT, state="attached", timeout=10_000)
    assert "PowBackward0" in page.locator(HIGHLIGHT).first.locator("xpath=..").text_content()


# ---------------------------------------------------------------- 4. the title's slope follows the slider


def test_plot_title_slope_follows_the_tangent_slider(open_page, server):
    page = open_page(server)
    assert "slope at the point = 60" in plot_title(page)  # 12 * (3*1 + 2) at x[0, 0] = 1
    rail = page.locator(f"{PLOT} .slider-rail-touch-rect").first
    frame = box(rail)
    page.mouse.click(frame["x"] + 0.1 * frame["width"], frame["y"] + frame["height"] / 2)
    current = f"{PLOT} .slider-group > text.slider-label"  # "x[0, 0] = 0.2": the slider's current value
    page.wait_for_function("s => !document.querySelector(s).textContent.endsWith('= 1')", arg=current)
    t = float(page.locator(current).first.text_content().split("=")[-1])
    assert t < 0.5, "the click moved the point left"
    slope = float(re.search(r"slope at the point = ([-\d.e+]+)", plot_title(page)).group(1))
    assert slope == pytest.approx(12 * (3 * t + 2), rel=1e-4)  # dz/dx = 4y * 3 with y = 3t + 2
    screenshot(page, "classroom_slider_title")


# ---------------------------------------------------------------- 5. the reduction names its layer


def test_reduction_node_and_first_step_name_the_real_output_layer(open_page, server):
    page = open_page(link(server, x="[1., 2.]", layers="y = 2*x\nloss = y**2", reduction="mean", backward_step=1))
    wait_text(page, "step 1 of")
    assert "out = loss.mean()" in graph_text(page)
    text = main_text(page)
    assert "z.mean()" not in text and "z.sum()" not in text
    step = page.locator('[data-testid="stMain"] [data-testid="stCode"]').filter(has_text="step 1 of").inner_text()
    assert "out = loss.mean()" in step and "to loss:" in step


# ---------------------------------------------------------------- 6. the step text fits and reads right

# Text of the step-through that Chromium drew outside its column (cut off, or behind a scrollbar).
STEP_TEXT_OUTSIDE = """() => {
  const outside = [];
  for (const code of document.querySelectorAll('[data-testid="stMain"] [data-testid="stCode"]')) {
    if (!code.innerText.includes('gradient in')) continue;
    const column = code.closest('[data-testid="stColumn"]') || code.parentElement;
    const right = Math.min(column.getBoundingClientRect().right, code.getBoundingClientRect().right);
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) if (rect.right > right + 1) outside.push(node.data);
    }
  }
  return outside;
}"""


@pytest.mark.parametrize("width, height, present", [(1400, 2200, "false"), (1024, 768, "true")])
def test_step_text_wraps_inside_its_column_and_ends_at_x_grad(open_page, server, width, height, present):
    page = open_page(link(server, reduction="mean", backward_step=3, present=present), width, height)
    wait_text(page, "step 3 of 6")
    page.locator(".st-key-backward_step").scroll_into_view_if_needed()
    screenshot(page, f"classroom_step_text_{width}")
    assert page.evaluate(STEP_TEXT_OUTSIDE) == [], "step text runs out of its column"
    slider = page.locator(".st-key-backward_step input[type='range']")
    slider.focus()
    slider.press("End")
    wait_text(page, "step 6 of 6")
    step = page.locator('[data-testid="stMain"] [data-testid="stCode"]').filter(has_text="step 6 of 6").inner_text()
    assert "d(x.grad)" not in step and "d (x.grad)" not in step
    assert "x.grad at x[0, 0] = 10" in step  # 12 * (3*1 + 2) / 6
    assert page.evaluate(STEP_TEXT_OUTSIDE) == []


# ---------------------------------------------------------------- 7. tensors keep their numbers whole


@pytest.mark.parametrize("tab", ["x.grad", "Forward pass", "Layer gradients"])
def test_code_blocks_never_break_a_number_at_1024_wide(open_page, server, tab):
    # Values from 1e-11 to 1e6 in every layer, gradient and x.grad: torch prints them all in e-notation.
    x, layers = "[[0.00012, 2.5, -3.1], [1000, 5, 6]]", "y = 0.001*x**2\nz = y*y"
    page = open_page(link(server, x=x, layers=layers, values=tab), 1024, 2400)
    wait_text(page, "e+03")
    screenshot(page, f"classroom_numbers_1024_{tab.split()[0].replace('.', '_')}")
    numbers = page.evaluate(NUMBER_LINES)
    assert any("e-" in number for number, _ in numbers), "the example prints numbers in e-notation"
    broken = [number for number, lines in numbers if lines != 1]
    assert not broken, f"numbers broken across lines: {broken}"


# ---------------------------------------------------------------- 8. nan elsewhere does not blank the plot


def test_plot_draws_the_elements_own_term_when_other_elements_are_nan(open_page, server):
    page = open_page(link(server, x="[[1, 0, -1], [2, 3, 4]]", layers="y = log(x)"))
    title = plot_title(page)
    path = page.locator(f"{PLOT} .scatterlayer .trace").first.locator("path.js-line")
    assert path.count() == 1, "the curve is drawn"
    area = box(page.locator(f"{PLOT} rect.nsewdrag").first)
    assert box(path)["width"] > 0.4 * area["width"], "log(t) is drawn for t > 0: about half the axis"
    assert "slope at the point = 1" in title  # d log(t) / dt at t = 1
    assert "nan" in title, "the title says why only this element's term is drawn"
    screenshot(page, "classroom_nan_plot")


# ---------------------------------------------------------------- 10. the forward pass runs as shown


def test_forward_pass_runs_as_python_and_prints_the_shown_values(open_page, server):
    page = open_page(link(server, x="[-1., 0, 1]", layers="y = sigmoid(x)", values="Forward pass"))
    code = page.locator('[data-testid="stMain"] [data-testid="stCode"]').filter(has_text="print(y)").first
    text = code.inner_text()
    assert "torch.sigmoid(x)" in text and text.startswith("import torch")
    ran = subprocess.run([sys.executable, "-c", text], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "tensor([0.2689, 0.5000, 0.7311], grad_fn=<SigmoidBackward0>)" in ran.stdout  # 1/(1+e), 1/2
    assert "tensor([0.2689, 0.5000, 0.7311], grad_fn=<SigmoidBackward0>)" in text, "the printed value is shown"


# ---------------------------------------------------------------- 13. smaller points


def test_graph_caption_explains_every_colour(open_page, server):
    page = open_page(server)
    caption = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').filter(has_text="Blue")
    words = caption.first.inner_text().lower()
    for colour in ("blue", "green", "yellow", "grey", "orange", "violet"):
        assert colour in words, f"the caption does not say what {colour} means"


@pytest.mark.parametrize("width", [1400, 1024])
def test_plot_toolbar_and_legend_cover_neither_title_nor_curve(open_page, server, width):
    page = open_page(server, width, 1800)
    plot = page.locator(PLOT).first
    plot.scroll_into_view_if_needed()
    plot.hover()
    page.wait_for_selector(f"{PLOT} .modebar", state="visible")
    title, toolbar = box(plot.locator(".gtitle")), box(plot.locator(".modebar"))
    legend, area = box(plot.locator("g.legend")), box(plot.locator("rect.nsewdrag").first)
    screenshot(page, f"classroom_plot_{width}")
    assert not overlap(title, toolbar), f"the toolbar {toolbar} covers the title {title}"
    assert not overlap(legend, area), f"the legend {legend} covers the plotting area {area}"
    assert title["x"] + title["width"] <= box(plot)["x"] + box(plot)["width"], "the title is cut"


@pytest.mark.parametrize(
    "params, hint",
    [
        ({"layers": "y = torch.sin(x)"}, "write sin(x), without torch."),
        ({"x": "1, 2, 3", "layers": "y = 2*x"}, "wrap a list in brackets: [1, 2, 3]"),
    ],
)
def test_common_mistakes_get_a_fix_in_the_error(open_page, server, params, hint):
    page = open_page(link(server, **params))
    alert = page.locator('[data-testid="stAlertContentError"]').first
    assert hint in alert.inner_text()


def test_dot_and_svg_exports_are_the_annotated_graph_as_shown(open_page, server, tmp_path):
    dot_program = shutil.which("dot")
    assert dot_program, "Graphviz's dot is needed: packages.txt and .ci/run install it"
    page = open_page(link(server, backward_step=3, reduction="mean"))
    wait_text(page, "step 3 of 6")
    page.get_by_text("Export: PyTorch script, Jupyter notebook, graph").click()
    wait_idle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Graph (.dot)").click()
    dot = open(info.value.path()).read()
    assert "#ffb347" in dot, "the step-through's current node is highlighted, as on screen"
    plain = subprocess.run([dot_program, "-Tplain"], input=dot, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    nodes = [line for line in plain.stdout.splitlines() if line.startswith("node ")]
    assert len(nodes) == 8  # x, AccumulateGrad, four ops, the mean, out
    for line in nodes:  # node name x y width height label style shape colour fillcolour
        label = re.match(r'node \S+ \S+ \S+ \S+ \S+ ("(?:[^"\\]|\\.)*"|\S+)', line).group(1).strip('"')
        assert re.search(r"[A-Za-z0-9]", label), f"an empty label: {line}"
    assert "out = z.mean()" in dot and "grad " in dot and "x.grad += " in dot
    with page.expect_download() as info:
        page.get_by_role("button", name="Graph (.svg)").click()
    svg = open(info.value.path()).read()
    assert "<svg" in svg and "PowBackward0" in svg and "x.grad +=" in svg, "dot rendered the annotated graph"


# ---------------------------------------------------------------- scope 7: dark theme

LEGEND_COLOURS = """(plot) => {
  const chart = document.querySelector(plot);
  const background = chart.querySelector('.legend rect.bg');
  const style = getComputedStyle(background);
  return {
    page: getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor,
    paper: getComputedStyle(chart.querySelector('.main-svg')).backgroundColor,
    legend: style.fill, legendOpacity: style.fillOpacity,
    texts: [...chart.querySelectorAll('.legendtext')].map(t => getComputedStyle(t).fill),
  };
}"""


def test_dark_theme_graph_and_legend_text_contrast(open_page, server):
    page = open_page(link(server, backward_step=3, reduction="mean"), scheme="dark")
    wait_text(page, "step 3 of 6")
    page.wait_for_selector(f"{PLOT} .legendtext", state="attached")
    colours = page.evaluate(LEGEND_COLOURS, PLOT)
    page_colour = rgba(colours["page"])
    assert luminance(page_colour) < 0.1, f"the page is not in dark theme: {colours['page']}"
    screenshot(page, "classroom_dark")

    graph = node_contrasts(page)
    low = [(label, round(ratio, 2)) for label, ratio in graph if ratio < 4.5]
    assert len(graph) >= 6 and not low, f"graph text below 4.5:1: {low}"

    paper = over(rgba(colours["paper"]), page_colour)
    legend_fill = rgba(colours["legend"])
    legend = over((*legend_fill[:3], legend_fill[3] * float(colours["legendOpacity"])), paper)
    assert len(colours["texts"]) == 3  # out, tangent, point
    for text in colours["texts"]:
        ratio = contrast(over(rgba(text), legend), legend)
        assert ratio >= 4.5, f"legend text {text} on {legend} is {ratio:.2f}:1"
