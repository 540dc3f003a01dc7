// Page-wide behaviour of the chat (run once by Gradio when the page loads).
(() => {
  // The page is Chinese first. Gradio sets <html lang> to the browser's locale; keep it zh-CN
  // so screen readers and fonts treat the article and replies as Chinese.
  const root = document.documentElement;
  const keepLang = () => { if (!/^zh\b/i.test(root.lang || '')) root.lang = 'zh-CN'; };
  keepLang();
  new MutationObserver(keepLang).observe(root, {attributes: true, attributeFilter: ['lang']});

  // The text a reader sees in an element: no hidden parts, icons or the "?" explanation.
  const visibleText = (el) => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('details > :not(summary), .qa-why, button:not(.qa-jump), svg, [aria-hidden="true"]')
      .forEach((x) => x.remove());
    return (copy.textContent || '').replace(/\s+/g, ' ').trim();
  };

  // The message a button below it belongs to: Gradio puts each message's buttons in a row after it.
  const messageOf = (button) => {
    const row = button.closest('[class*="message-buttons"]');
    for (let el = row && row.previousElementSibling; el; el = el.previousElementSibling) {
      const msg = el.matches('[data-testid]') ? el : el.querySelector('[data-testid="bot"], [data-testid="user"]');
      if (msg) return msg;
    }
    return null;
  };

  // Labels in the page's language. Gradio names each message by its raw source (markdown
  // escapes, HTML) and its own controls in English; give screen readers what is shown instead.
  const setLabel = (el, label) => {
    if (el && el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
    if (el && el.hasAttribute('title') && el.getAttribute('title') !== label) el.setAttribute('title', label);
  };
  const fixLabels = () => {
    setLabel(document.querySelector('#qa-chat [role="log"]'), '对话 / Chat');
    document.querySelectorAll('#qa-chat [data-testid="user"], #qa-chat [data-testid="bot"]').forEach((el) => {
      const bot = el.getAttribute('data-testid') === 'bot';
      setLabel(el, (bot ? '回答 / Reply: ' : '问题 / Question: ') + visibleText(el));
    });
    document.querySelectorAll('#qa-chat [class*="message-buttons"] button').forEach((b) => {
      const msg = messageOf(b);
      if (!msg || !/copy|复制/i.test(b.getAttribute('aria-label') || '')) return;
      setLabel(b, msg.getAttribute('data-testid') === 'bot' ? '复制回答 / Copy reply' : '复制问题 / Copy question');
    });
    document.querySelectorAll('#qa-chat button').forEach((b) => {
      if (/^(clear|清空对话)$/i.test(b.getAttribute('aria-label') || '')) setLabel(b, '清空对话 / Clear chat');
    });
  };

  // The copy button of a reply copies what a reader would cite: the quote and its source line
  // (or, for a reply without a quote, its text), never the markup behind it. Gradio's own handler
  // writes the raw message first; this one runs after it (bubble phase, on window) and wins.
  const citation = (msg) => {
    const quote = msg.querySelector('blockquote');
    const meta = msg.querySelector('.qa-meta');
    if (quote) return [visibleText(quote), meta ? visibleText(meta) : ''].filter(Boolean).join('\n');
    return visibleText(msg);
  };
  window.addEventListener('click', (e) => {
    const button = e.target.closest && e.target.closest('#qa-chat button');
    if (!button || !/复制|copy/i.test(button.getAttribute('aria-label') || '')) return;
    const msg = messageOf(button);
    if (msg && navigator.clipboard) navigator.clipboard.writeText(citation(msg)).catch(() => {});
  });

  // A closest passage clicked in a reply: the server highlights it in the article panel (the hidden
  // #qa-jump-go button's event reads window.qaJump, "source\tstart\tend"). Capture phase: the click
  // must not also select the message (which would highlight the reply's own quote).
  window.addEventListener('click', (e) => {
    const jump = e.target.closest && e.target.closest('#qa-chat .qa-jump');
    if (!jump) return;
    e.stopPropagation();
    e.preventDefault();
    const [start, end, ...source] = (jump.value || '').split(':');  // "start:end:source"
    window.qaJump = [source.join(':'), start, end].join('\t');
    const go = document.querySelector('#qa-jump-go button, button#qa-jump-go');
    if (go) go.click();
  }, true);

  // The length hint under the input: said before sending, near and over the one question limit.
  const hint = () => {
    const box = document.querySelector('#qa-input textarea');
    const out = document.querySelector('#qa-hint .qa-len-hint');
    if (!box || !out) return;
    const max = Number(out.dataset.max) || 0;
    const n = box.value.trim().length;
    let text = '';
    if (max && n > max) text = `问题太长：${n} 字，上限 ${max} 字，请缩短后再发送。 / Too long: ${n} of ${max} characters.`;
    else if (max && n > max * 0.8) text = `还可以输入 ${max - n} 字。 / ${max - n} characters left.`;
    out.classList.toggle('qa-over', n > max);
    if (out.textContent !== text) out.textContent = text;
  };
  document.addEventListener('input', (e) => { if (e.target.closest && e.target.closest('#qa-input')) hint(); }, true);

  // While an answer is computed the input is disabled; give it the focus back afterwards
  // (not on touch screens, where focusing would pop the keyboard over the answer).
  let waiting = false;
  const refocus = () => {
    const box = document.querySelector('#qa-input textarea');
    if (!box) return;
    if (box.disabled) { waiting = true; return; }
    if (!waiting) return;
    waiting = false;
    hint();
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
