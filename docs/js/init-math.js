// Typeset the guide's formulas (pymdownx.arithmatex marks them; KaTeX is bundled with the site).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".arithmatex").forEach(function (element) {
    renderMathInElement(element, {
      delimiters: [{ left: "\\[", right: "\\]", display: true }, { left: "\\(", right: "\\)", display: false }],
      throwOnError: true,
    });
  });
});
