"""The built book as a reader sees it, in headless Chromium (``make browser-test``).

Serves ``_build/html`` on 127.0.0.1 and opens every page of the table of contents in
Debian's chromium through chromium-driver (selenium): no request leaves the machine, no
console error, every maths expression typeset and no raw ``$`` or ``\\(`` left in the
text, every image loaded, every local link and anchor resolves, exercise solutions start
hidden and open on click, each explorer's picture changes with its slider, and no code
cell or output is wider than the text column. A screenshot of every page goes to
``_build/screenshots/``.

Run by ``make browser-test`` after ``make book``; not part of ``make unit``.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = sorted(p.relative_to(BUILD).as_posix() for p in (BUILD / "book").glob("*.html"))
LOCAL_SCHEMES = ("data:", "blob:", "about:")

if not PAGES:
    pytest.skip(
        "no built book in _build/html: run `make book` first", allow_module_level=True
    )
webdriver = pytest.importorskip("selenium.webdriver")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def base_url():
    handler = functools.partial(QuietHandler, directory=str(BUILD))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def driver():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail(
            "chromium and chromedriver must be installed (Debian: apt-get install "
            "chromium chromium-driver; `make browser-test` does it)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    options.set_capability(
        "goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"}
    )
    service = webdriver.ChromeService(executable_path=chromedriver)
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_script_timeout(120)
    yield browser
    browser.quit()


# JavaScript run in each page ---------------------------------------------------------

WAIT_FOR_MATHS = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done("none"); }
else { MathJax.startup.promise.then(() => done("typeset"), e => done("error: " + e)); }
"""

INSPECT = r"""
const article = document.querySelector("article.bd-article") || document.body;
const maths = [...article.querySelectorAll(".math")];
const untypeset = maths.filter(m => !m.querySelector("mjx-container"))
  .map(m => m.textContent.slice(0, 60));
const clone = article.cloneNode(true);
clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight")
  .forEach(e => e.remove());
const text = clone.textContent;
const raw = [];
for (const pattern of [/\\\(|\\\)|\\\[|\\\]/g, /\$[^$\s][^$]{0,80}\$/g, /\$\$/g]) {
  for (const m of text.matchAll(pattern)) {
    raw.push(text.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\s+/g, " "));
  }
}
const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
  .map(i => i.getAttribute("src"));
const links = [...document.querySelectorAll("a[href]")].map(a => a.href);
const column = article.getBoundingClientRect();
const wide = [...article.querySelectorAll("div.cell pre, div.cell img, div.cell table")]
  .filter(e => e.scrollWidth > e.clientWidth + 1 ||
               e.getBoundingClientRect().right > column.right + 1)
  .map(e => e.tagName + ": " + (e.textContent || e.getAttribute("src") || "")
    .trim().split("\n").sort((a, b) => b.length - a.length)[0].slice(0, 70));
const unexplained = [...article.querySelectorAll("img")].filter(i => {
  const alt = (i.getAttribute("alt") || "").trim();
  return alt.length < 10 || /\.(png|svg|jpe?g)$/i.test(alt);
}).map(i => (i.getAttribute("alt") || "(none)").slice(0, 60));
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
const plainReferences = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const skip = "a, h1, h2, h3, h4, pre, code, script, mjx-container, " +
               ".admonition-title, .cell_output";
  if (node.parentElement.closest(skip)) continue;
  for (const m of node.textContent.matchAll(/\b(Chapters?|Sections?) \d/g)) {
    plainReferences.push(node.textContent.slice(Math.max(0, m.index - 20), m.index + 25)
      .replace(/\s+/g, " "));
  }
}
const solutions = article.querySelectorAll(".solution.dropdown").length;
const explorers = article.querySelectorAll(".vae-explorer").length;
return {maths: maths.length, untypeset, raw, images, links, wide, solutions, explorers,
        unexplained, plainReferences,
        height: document.documentElement.scrollHeight};
"""

SOLUTION_STATE = """
return [...document.querySelectorAll("article .solution.dropdown")].map(s => {
  const body = [...s.children].filter(c => !c.classList.contains("admonition-title"));
  return body.some(c => getComputedStyle(c).visibility !== "hidden" &&
                        c.getBoundingClientRect().height > 0);
});
"""

EXPLORER_PICTURES = """
return [...document.querySelectorAll(".vae-explorer")].map(
  e => [...e.querySelectorAll("img")].map(i => i.getAttribute("src")).join("|"));
"""

MOVE_SLIDERS = """
const result = [];
for (const explorer of document.querySelectorAll(".vae-explorer")) {
  for (const slider of explorer.querySelectorAll("input[type=range]")) {
    const max = Number(slider.max), value = Number(slider.value);
    slider.value = String(value === max ? Number(slider.min) : max);
    slider.dispatchEvent(new Event("input", {bubbles: true}));
  }
}
"""


@dataclass
class PageVisit:
    """What one page showed and requested."""

    url: str
    typesetting: str
    requests: list[str]
    console_errors: list[str]
    found: dict
    solutions_visible_before: list[bool] = field(default_factory=list)
    solutions_visible_after: list[bool] = field(default_factory=list)
    explorers_before: list[str] = field(default_factory=list)
    explorers_after: list[str] = field(default_factory=list)


def requested_urls(browser) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@functools.cache
def _visit(page: str, base: str, browser_id: int) -> PageVisit:
    browser = _BROWSERS[browser_id]
    browser.get_log("performance")
    browser.get_log("browser")
    url = base + page
    browser.get(url)
    typesetting = browser.execute_async_script(WAIT_FOR_MATHS)
    time.sleep(0.3)  # let late scripts (togglebutton, explorers) settle
    found = browser.execute_script(INSPECT)
    visit = PageVisit(url, typesetting, [], [], found)
    visit.solutions_visible_before = browser.execute_script(SOLUTION_STATE)
    for button in browser.find_elements(
        "css selector", "article .solution.dropdown > .admonition-title .toggle-button"
    ):
        browser.execute_script(
            "arguments[0].scrollIntoView({block: 'center'});", button
        )
        button.click()
    time.sleep(0.3)
    visit.solutions_visible_after = browser.execute_script(SOLUTION_STATE)
    visit.explorers_before = browser.execute_script(EXPLORER_PICTURES)
    browser.execute_script(MOVE_SLIDERS)
    time.sleep(0.2)
    visit.explorers_after = browser.execute_script(EXPLORER_PICTURES)
    browser.execute_script("window.scrollTo(0, 0);")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": 1280,
                "height": min(found["height"], 16000),
                "scale": 1,
            },
        },
    )
    (SCREENSHOTS / (Path(page).stem + ".png")).write_bytes(
        base64.b64decode(shot["data"])
    )
    visit.requests = requested_urls(browser)
    visit.console_errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] in ("SEVERE", "ERROR")
    ]
    return visit


_BROWSERS: dict[int, object] = {}


@pytest.fixture
def visit(driver, base_url):
    _BROWSERS[id(driver)] = driver

    def run(page: str) -> PageVisit:
        return _visit(page, base_url, id(driver))

    return run


# The checks, one per property so that a report names what broke --------------------


@pytest.mark.parametrize("page", PAGES)
def test_no_request_leaves_the_machine(visit, page, base_url):
    result = visit(page)
    remote = [
        u
        for u in result.requests
        if not u.startswith(base_url) and not u.startswith(LOCAL_SCHEMES)
    ]
    assert not remote, f"{page} requested {remote}"


@pytest.mark.parametrize("page", PAGES)
def test_no_console_error(visit, page):
    assert not visit(page).console_errors, visit(page).console_errors


@pytest.mark.parametrize("page", PAGES)
def test_every_maths_expression_is_typeset(visit, page):
    result = visit(page)
    if result.found["maths"]:
        assert result.typesetting == "typeset", result.typesetting
    assert not result.found["untypeset"], result.found["untypeset"][:5]
    assert not result.found["raw"], f"raw LaTeX in the text: {result.found['raw'][:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads(visit, page):
    assert not visit(page).found["images"]


@pytest.mark.parametrize("page", PAGES)
def test_every_figure_says_what_it_shows(visit, page):
    """Alt text, not the image's file name, for readers who cannot see the figure."""
    unexplained = visit(page).found["unexplained"]
    assert not unexplained, (
        f"{len(unexplained)} images without alt text: {unexplained[:5]}"
    )


@pytest.mark.parametrize("page", PAGES)
def test_references_to_chapters_and_sections_are_links(visit, page):
    if page.endswith("bibliography.html"):
        pytest.skip("the bibliography's 'Chapter 14' belongs to a cited book")
    plain = visit(page).found["plainReferences"]
    assert not plain, f"{len(plain)} plain references, e.g. {plain[:5]}"


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES)
def test_every_local_link_and_anchor_resolves(visit, page, base_url):
    broken = []
    for link in visit(page).found["links"]:
        if not link.startswith(base_url):
            continue
        parts = urlsplit(link)
        target = BUILD / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.exists() or (
            parts.fragment
            and target.suffix == ".html"
            and unquote(parts.fragment) not in _ids(target)
        ):
            broken.append(link)
    assert not broken, f"{page}: {sorted(set(broken))[:10]}"


@pytest.mark.parametrize("page", PAGES)
def test_solutions_start_hidden_and_open_on_click(visit, page):
    result = visit(page)
    assert len(result.solutions_visible_before) == result.found["solutions"]
    assert not any(result.solutions_visible_before), "a solution shows before a click"
    assert all(result.solutions_visible_after), "a solution stays hidden after a click"


@pytest.mark.parametrize("page", PAGES)
def test_each_explorer_changes_its_picture_with_its_sliders(visit, page):
    result = visit(page)
    assert len(result.explorers_before) == result.found["explorers"]
    unchanged = [
        i
        for i, (before, after) in enumerate(
            zip(result.explorers_before, result.explorers_after)
        )
        if before == after
    ]
    assert not unchanged, f"explorers {unchanged} did not change"


@pytest.mark.parametrize("page", PAGES)
def test_no_code_cell_or_output_is_wider_than_the_column(visit, page):
    wide = visit(page).found["wide"]
    assert not wide, f"{len(wide)} wider than the column, e.g. {wide[:5]}"


def _weight(urls: list[str], base_url: str) -> int:
    """Bytes of the distinct local files a page requested (a first visit's weight)."""
    files = {
        BUILD / unquote(urlsplit(u).path).lstrip("/")
        for u in urls
        if u.startswith(base_url)
    }
    return sum(f.stat().st_size for f in files if f.is_file())


def test_summary_is_recorded(visit, base_url):
    """What every page weighs and requested, in _build/browser-test.json."""
    summary = {}
    for page in PAGES:
        result = visit(page)
        summary[page] = {
            "bytes": _weight(result.requests, base_url),
            "requests": len(set(result.requests)),
            "remote_requests": sum(
                not u.startswith((base_url, *LOCAL_SCHEMES)) for u in result.requests
            ),
            "console_errors": len(result.console_errors),
            "maths": result.found["maths"],
        }
    path = ROOT / "_build" / "browser-test.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    assert all(s["bytes"] > 0 for s in summary.values())


def test_the_book_has_explorers_and_solutions(visit):
    """The checks above must have something to check."""
    results = [visit(page) for page in PAGES]
    assert sum(r.found["explorers"] for r in results) >= 3
    assert sum(r.found["solutions"] for r in results) >= 21
    assert sum(r.found["maths"] for r in results) > 500
