// LLM Lab: a visible cue on tables that hold more columns than they show (issue 25). Marks each table's
// .table-wrap with "more-right" / "more-left" while columns sit past that edge; assets/style.css draws the
// cue. Only reads sizes and toggles classes: no content is read or sent anywhere.
(() => {
  const mark = (viewport) => {
    const wrap = viewport.closest(".table-wrap");
    if (!wrap) return;
    const hidden = viewport.scrollWidth - viewport.clientWidth;
    wrap.classList.toggle("more-right", hidden > 2 && viewport.scrollLeft < hidden - 2);
    wrap.classList.toggle("more-left", hidden > 2 && viewport.scrollLeft > 2);
  };
  const scan = () => document.querySelectorAll(".virtual-table-viewport").forEach((viewport) => {
    if (!viewport.dataset.labCue) {
      viewport.dataset.labCue = "1";
      viewport.addEventListener("scroll", () => mark(viewport), { passive: true });
    }
    mark(viewport);
  });
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; scan(); }); } };
  new MutationObserver(later).observe(document.documentElement, { childList: true, subtree: true, attributes: true,
                                                                  attributeFilter: ["style", "class"] });
  window.addEventListener("resize", later);
})();
