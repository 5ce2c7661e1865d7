// Start Swagger UI on the API documentation page (no inline script: the CSP forbids it).
"use strict";

// Swagger UI's tag headings skip a level under the page's h1: say they are the second level.
function fitSwaggerToThePage(root) {
  root.querySelectorAll("h3.opblock-tag").forEach((heading) => {
    if (heading.getAttribute("aria-level") !== "2") heading.setAttribute("aria-level", "2");
  });
}

window.addEventListener("DOMContentLoaded", () => {
  const target = document.getElementById("swagger-ui");
  if (!target || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: target.dataset.openapi,
    domNode: target,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The schemas are in /openapi.json; Swagger's schema browser fails contrast checks.
    defaultModelsExpandDepth: -1,
  });
  new MutationObserver(() => fitSwaggerToThePage(target)).observe(target, { childList: true, subtree: true });
});
