// LLM Lab: a visible cue on tables that hold more columns than they show (issue 25). Marks each table's
// .table-wrap with "more-right" / "more-left" while columns sit past that edge; assets/style.css draws the
// cue. Cheap on purpose: a scan once a second (and on scroll), touching a class only when it changes.
(() => {
  const set = (element, name, on) => { if (element.classList.contains(name) !== on) element.classList.toggle(name, on); };
  const mark = (viewport) => {
    const wrap = viewport.closest(".table-wrap");
    if (!wrap || !viewport.clientWidth) return;
    const hidden = viewport.scrollWidth - viewport.clientWidth;
    set(wrap, "more-right", hidden > 2 && viewport.scrollLeft < hidden - 2);
    set(wrap, "more-left", hidden > 2 && viewport.scrollLeft > 2);
  };
  const scan = () => document.querySelectorAll(".virtual-table-viewport").forEach((viewport) => {
    if (!viewport.dataset.labCue) {
      viewport.dataset.labCue = "1";
      viewport.addEventListener("scroll", () => mark(viewport), { passive: true });
    }
    mark(viewport);
  });
  setInterval(scan, 1000);
})();
