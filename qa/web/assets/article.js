// The article panel (gr.HTML js_on_load: `element` is the panel, `watch` runs after a re-render).
// Each rendering says what to do with the scroll in data-scroll: "hit" brings the highlighted
// quote into view, "keep" stays where the reader was (a re-render must not jump to the top),
// "top" goes back to the start (after Clear).
let last = 0;  // the reader's scroll position, carried across re-renders
element.addEventListener('scroll', (e) => {
  if (e.target.classList && e.target.classList.contains('qa-article-body')) last = e.target.scrollTop;
}, true);
const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
const apply = (initial) => {
  const art = element.querySelector('.qa-article');
  const box = element.querySelector('.qa-article-body');
  if (!art || !box) return;
  const mode = art.dataset.scroll;
  if (mode === 'top') { box.scrollTop = 0; last = 0; return; }
  box.scrollTop = last;
  const hit = box.querySelector('#qa-hit');
  if (mode !== 'hit' || !hit) return;
  const offset = hit.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  // A little context above the quote; less on a short (phone) panel, so the quote stays on screen.
  const top = Math.max(0, offset - Math.min(box.clientHeight * 0.2, 48));
  box.scrollTo({top, behavior: initial || still ? 'auto' : 'smooth'});
};
watch('value', () => apply(false));
apply(true);
