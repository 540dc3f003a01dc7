// Page-wide behaviour of the chat (run once by Gradio when the page loads).
(() => {
  // The page is Chinese first. Gradio sets <html lang> to the browser's locale; keep it zh-CN
  // so screen readers and fonts treat the article and replies as Chinese.
  const root = document.documentElement;
  const keepLang = () => { if (!/^zh\b/i.test(root.lang || '')) root.lang = 'zh-CN'; };
  keepLang();
  new MutationObserver(keepLang).observe(root, {attributes: true, attributeFilter: ['lang']});

  // Gradio names each message by its raw source (markdown escapes, <details> HTML) in
  // aria-label; give screen readers the text that is actually shown instead.
  const visibleText = (el) => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('details > :not(summary), button, svg, [aria-hidden="true"]').forEach((x) => x.remove());
    return (copy.textContent || '').replace(/\s+/g, ' ').trim();
  };
  const fixLabels = () => {
    document.querySelectorAll('#qa-chat [data-testid="user"], #qa-chat [data-testid="bot"]').forEach((el) => {
      const who = el.getAttribute('data-testid') === 'user' ? '问题 / Question: ' : '回答 / Reply: ';
      const label = who + visibleText(el);
      if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
    });
  };

  // While an answer is computed the input is disabled; give it the focus back afterwards
  // (not on touch screens, where focusing would pop the keyboard over the answer).
  let waiting = false;
  const refocus = () => {
    const box = document.querySelector('#qa-input textarea');
    if (!box) return;
    if (box.disabled) { waiting = true; return; }
    if (!waiting) return;
    waiting = false;
    const touch = window.matchMedia('(pointer: coarse)').matches;
    const active = document.activeElement;
    if (!touch && (!active || active === document.body)) box.focus();
  };

  let queued = false;
  const update = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fixLabels(); refocus(); });
  };
  new MutationObserver(update).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['aria-label', 'disabled'],
  });
  update();
})();
