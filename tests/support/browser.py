"""Helpers for the browser tests (tests/web/test_browser*.py): open a page, ask, measure.

Debian's Chromium, headless (`CHROMIUM`); playwright never downloads a browser here.
"""
from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 30_000
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PHONE_ARGS = {"has_touch": True, "is_mobile": True}

BOT = '#qa-chat [data-testid="bot"]'
USER = '#qa-chat [data-testid="user"]'
HIT = "#qa-article mark#qa-hit"

QUESTION = "获得“时代楷模”称号的海雀村原党支部书记是谁？"  # answered with confidence (0.94)
DEEP_QUESTION = "十三五期间赫章县累计搬迁安置多少户？"  # its quote is far down the article
DECLINED = "Who won the World Cup in 2018?"  # declined (0.32); some English out-of-scope questions land in the unsure band (docs/trust.md)
TITLE = "八年攻坚 奋楫争先"  # the seed article's headline (its first line is the page's banner)


def open_page(browser, server, viewport=DESKTOP, **context_args):
    context = browser.new_context(viewport=viewport, **{"locale": "zh-CN", **context_args})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server, wait_until="domcontentloaded")
    page.locator("#qa-input textarea").wait_for()
    page.locator("#qa-examples .qa-example").first.wait_for()  # the page's load event has run
    return page


def ask(page, question: str):
    """Type `question`, press Enter; return the locator of the newest bot message once answered."""
    bots = page.locator(BOT)
    before = bots.count()
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n", arg=[BOT, before])
    page.wait_for_function("() => !document.querySelector('#qa-input textarea').disabled")  # the turn is over
    return bots.last


HIT_VISIBLE = """() => {
    const b = document.querySelector('#qa-article .qa-article-body');
    const m = document.querySelector('#qa-article mark#qa-hit');
    if (!b || !m) return false;
    const br = b.getBoundingClientRect(), mr = m.getBoundingClientRect();
    return mr.top >= br.top && mr.bottom <= br.bottom;
}"""


def wait_hit_visible(page):
    """Wait until the highlighted quote lies inside the article panel's visible area."""
    page.wait_for_function(HIT_VISIBLE)


def article_scroll(page) -> float:
    return page.evaluate("document.querySelector('#qa-article .qa-article-body').scrollTop")


# WCAG contrast of every visible piece of text on the page against the background it is drawn on
# (the first opaque background among its ancestors), plus the input's placeholder. Returns the
# failures below `min` as [ratio, text, selector-ish] lists.
LOW_CONTRAST = r"""(min) => {
    const rgba = (s) => { const m = s.match(/[\d.]+/g) || [0, 0, 0, 0]; return m.map(Number).concat([1]).slice(0, 4); };
    const lum = ([r, g, b]) => {
        const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const blend = (fg, bg) => [0, 1, 2].map((i) => fg[i] * fg[3] + bg[i] * (1 - fg[3])).concat([1]);
    const background = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c[3] > 0) layers.push(c);
            if (c[3] >= 1) break;
        }
        let bg = document.body.classList.contains('dark') ? [11, 15, 25, 1] : [255, 255, 255, 1];
        for (const c of layers.reverse()) bg = blend(c, bg);
        return bg;
    };
    const ratio = (fg, bg) => {
        const [a, b] = [lum(blend(fg, bg)), lum(bg)];
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    };
    const out = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!el || seen.has(el) || !n.textContent.trim()) continue;
        seen.add(el);
        const r = el.getBoundingClientRect();
        const cs = getComputedStyle(el);
        if (!r.width || !r.height || cs.visibility === 'hidden' || el.closest('[hidden], .sr-only, .qa-sr, svg, footer')) continue;
        if (el.closest('button:disabled, textarea:disabled, input:disabled')) continue;  // WCAG exempts disabled controls
        const value = ratio(rgba(cs.color), background(el));
        if (value < min) out.push([Math.round(value * 100) / 100, n.textContent.trim().slice(0, 40), el.className.toString().slice(0, 40)]);
    }
    for (const box of document.querySelectorAll('textarea[placeholder], input[placeholder]')) {
        if (!box.getBoundingClientRect().width || box.disabled) continue;
        const value = ratio(rgba(getComputedStyle(box, '::placeholder').color), background(box));
        if (value < min) out.push([Math.round(value * 100) / 100, 'placeholder: ' + box.placeholder, '']);
    }
    return out;
}"""


def low_contrast(page, minimum: float = 4.5) -> list:
    return page.evaluate(LOW_CONTRAST, minimum)


def serious_axe_violations(page) -> list:
    """axe-core's serious and critical violations on the page as it is now: [(rule, target, summary)]."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], node["target"], node.get("failureSummary", "")[:200])
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")
            for node in v["nodes"]]
