// Small behaviours on top of htmx; every page still works without them.
"use strict";

// A picker's suggestion fills its input; typing the code by hand works the same.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-pick-value]");
  if (!button) return;
  const input = document.getElementById(button.dataset.pickFor);
  if (!input) return;
  input.value = button.dataset.pickValue;
  const list = button.closest("[data-picks]");
  if (list) list.replaceChildren();
  input.focus();
});

// Escape closes a picker's suggestions without clearing what was typed.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const field = event.target.closest(".field");
  const list = field && field.querySelector("[data-picks]");
  if (list && list.childElementCount) list.replaceChildren();
});

// Keep aria-invalid and the field's error styling in step with a message htmx swapped in.
function syncInvalid(message) {
  // History restores (back/forward) swap with no target element: nothing to sync.
  if (!message || !message.classList || !message.classList.contains("field-error")) return;
  const invalid = message.textContent.trim() !== "";
  document.querySelectorAll(`[aria-describedby~="${message.id}"]`).forEach((control) => {
    if (invalid) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  });
  const field = message.closest(".field");
  if (field) field.classList.toggle("has-error", invalid);
}

document.addEventListener("htmx:afterSwap", (event) => syncInvalid(event.detail.target));
document.addEventListener("htmx:oobAfterSwap", (event) => syncInvalid(event.detail.target));

// A list reloaded at a new address (a filter chosen, a sort, a page): the message of a filter
// in the old address that named nothing went with that address, so it goes from the form.
document.addEventListener("htmx:afterSwap", (event) => {
  const from = event.detail.requestConfig && event.detail.requestConfig.elt;  // the sender
  if (!from || !from.closest || !from.closest('[hx-push-url="true"]')) return;
  // A hidden choice of the list's form (its sort) follows the new address, so the next filter
  // keeps the order a header link chose.
  const info = event.detail.pathInfo || {};
  const sent = info.finalRequestPath || info.requestPath || window.location.href;
  const address = new URL(sent, window.location.href).searchParams;
  document.querySelectorAll("form.filters").forEach((form) => {
    form.querySelectorAll('input[type="hidden"]').forEach((input) => {
      if (address.has(input.name)) input.value = address.get(input.name);
    });
    form.querySelectorAll(".field-error").forEach((message) => {
      if (!message.textContent.trim()) return;
      message.replaceChildren();
      syncInvalid(message);
    });
    const summary = form.previousElementSibling;
    if (summary && summary.matches(".error-summary")) summary.remove();
  });
});

// A confirmation after a save that came back to a section of a long page (#ig, #review): shown
// and focused where the page opens, not above it off screen, so it is seen and read.
document.addEventListener("DOMContentLoaded", () => {
  const flash = document.getElementById("flash");
  let id = window.location.hash.slice(1);
  try { id = decodeURIComponent(id); } catch (_) { return; }  // an address mangled by hand
  const section = id && document.getElementById(id);
  if (!flash || !section || section.contains(flash)) return;
  const heading = section.matches("h1, h2, h3") ? section : section.querySelector("h2, h3");
  if (heading) heading.insertAdjacentElement("afterend", flash);
  else section.prepend(flash);
  if (document.querySelector(".error-summary, .notice.conflict")) return;  // those come first
  flash.tabIndex = -1;
  // Once loaded: the browser's own move to the address's section would take the focus back.
  window.addEventListener("load", () => flash.focus({ preventScroll: true }));
});

// A page shown again with errors, or with a clash with someone else's change: its summary
// takes focus, so it is read (and seen) first.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(
    '.error-summary, .notice.conflict, main .error[role="alert"][tabindex="-1"]');
  if (summary) summary.focus();
});

// A summary's link to a field focuses it with its question in view: the browser's own jump
// puts the field at the top of the window and its label (above it) off screen.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest('.error-summary a[href^="#"]');
  if (!link) return;
  let id = link.hash.slice(1);
  try { id = decodeURIComponent(id); } catch (_) { return; }
  const field = id && document.getElementById(id);
  if (!field) return;
  const group = field.closest("fieldset");
  const question = document.querySelector(`label[for="${CSS.escape(id)}"]`)
    || (group && group.querySelector("legend")) || field;
  event.preventDefault();
  question.scrollIntoView({ block: "start" });
  if (!field.matches("a[href], button, input, select, textarea, [tabindex]")) field.tabIndex = -1;
  field.focus({ preventScroll: true });
});

// A section saved or refused through htmx: focus its first invalid field, else its summary
// of a refusal of the whole form, else its confirmation, so a keyboard or screen-reader user
// hears what happened where it happened.
document.addEventListener("htmx:afterSettle", () => {
  const fresh = document.querySelector("[data-fresh]");
  if (!fresh) return;
  fresh.removeAttribute("data-fresh");
  const target = fresh.querySelector('[aria-invalid="true"]')
    || fresh.querySelector('.error-summary, .error[role="alert"]')
    || fresh.querySelector('.notice[role="status"]');
  if (!target) return;
  if (!target.matches("input, select, textarea")) target.tabIndex = -1;
  target.focus();
});

// Any other swap that took away the focused control (a sort header, a Watch button): focus
// its new copy (same id, else same kind and words), else the region swapped in, never the page.
let focusedBeforeSwap = null;
document.addEventListener("htmx:beforeRequest", () => {
  const active = document.activeElement;
  focusedBeforeSwap = active && active !== document.body ? {
    element: active, id: active.id, tag: active.tagName,
    words: (active.textContent || "").trim().split(/\s+/)[0],
  } : null;
});
document.addEventListener("htmx:afterSettle", (event) => {
  const was = focusedBeforeSwap;
  if (!was || was.element.isConnected) return;
  if (document.activeElement && document.activeElement !== document.body) return;
  // The region swapped in: the target itself, or (swapped outerHTML) its new copy by id.
  const target = event.detail && event.detail.target;
  const region = target && (target.isConnected ? target
    : (target.id && document.getElementById(target.id)));
  const scope = region || document;
  const focusable = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  const same = (was.id && document.getElementById(was.id))
    || Array.from(scope.querySelectorAll(was.tag)).find(
      (e) => was.words && (e.textContent || "").trim().startsWith(was.words))
    || (region && (region.querySelector(`${was.tag.toLowerCase()}:is(${focusable})`) || region));
  if (!same) return;
  if (!same.matches(`${focusable}, [tabindex]`)) same.tabIndex = -1;
  same.focus();
});

// Unsaved changes in a form marked data-warn-unsaved: ask before leaving the page. Saving
// another section through htmx does not leave the page, so nothing is lost there. A form shown
// again with its input refused (data-unsaved) holds unsaved input from the start.
const unsaved = new Set();
document.addEventListener("input", (event) => {
  const form = event.target.closest && event.target.closest("form[data-warn-unsaved]");
  if (form) unsaved.add(form);
});
document.addEventListener("change", (event) => {
  const form = event.target.closest && event.target.closest("form[data-warn-unsaved]");
  if (form) unsaved.add(form);
});
document.addEventListener("submit", (event) => {
  if (event.target.matches && event.target.matches("form[data-warn-unsaved]")) {
    unsaved.delete(event.target);
    event.target.removeAttribute("data-unsaved");
  }
});
function hasUnsaved() {
  // A section htmx replaced after saving it is no longer in the page: its input is saved.
  for (const form of unsaved) if (!form.isConnected) unsaved.delete(form);
  return unsaved.size > 0 || document.querySelector("form[data-warn-unsaved][data-unsaved]") !== null;
}
window.addEventListener("beforeunload", (event) => {
  if (!hasUnsaved()) return;
  event.preventDefault();
  event.returnValue = "";
});

// The header's menu button (narrow screens): shown only when this script runs, so without
// script the navigation is always open.
(() => {
  const header = document.querySelector("header.site");
  const button = header && header.querySelector(".menu-button");
  const menu = header && document.getElementById("site-menu");
  if (!button || !menu) return;
  button.hidden = false;
  header.classList.add("has-menu");
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
    if (!menu.contains(document.activeElement)) return;
    button.setAttribute("aria-expanded", "false");
    menu.classList.remove("open");
    button.focus();
  });
})();

// A table wider than its box scrolls inside it; one without links gets a tab stop so a
// keyboard can scroll it too.
function letTablesScroll() {
  document.querySelectorAll("main table").forEach((table) => {
    const scrolls = table.scrollWidth > table.clientWidth + 1;
    const focusable = table.querySelector("a[href], button, input, select, textarea, summary");
    if (scrolls && !focusable && !table.hasAttribute("tabindex")) {
      table.tabIndex = 0;
      const caption = table.querySelector("caption");
      if (!table.hasAttribute("aria-label") && !caption) table.setAttribute("aria-label", "Table (scrolls sideways)");
    }
    // A sticky column (phones) covers what scrolls under it: scroll padding as wide as it
    // keeps a focused control beside it, not hidden beneath it (WCAG 2.4.11).
    const first = table.rows[0];
    const sticky = first ? Array.from(first.cells).filter(
      (cell) => getComputedStyle(cell).position === "sticky") : [];
    const covered = Math.max(0, ...sticky.map((cell) => cell.getBoundingClientRect().width));
    table.style.scrollPaddingLeft = scrolls && covered ? `${Math.ceil(covered)}px` : "";
  });
}
document.addEventListener("DOMContentLoaded", letTablesScroll);
window.addEventListener("resize", letTablesScroll);
document.addEventListener("htmx:afterSettle", letTablesScroll);

// A backlog row's "Why?" opens a full-width row under it (htmx loads it the first time).
document.addEventListener("click", (event) => {
  const toggle = event.target.closest && event.target.closest(".why-toggle");
  if (!toggle) return;
  event.preventDefault();
  const row = document.getElementById(toggle.getAttribute("aria-controls"));
  if (!row) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  row.hidden = !open;
});

// Escape closes an open Why? (from its toggle or from inside its panel) or a comment's Edit,
// and focus goes back to what opened it, as the header's menu does.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !event.target.closest) return;
  const row = event.target.closest("tr.why-row");
  const toggle = row ? document.querySelector(`.why-toggle[aria-controls="${CSS.escape(row.id)}"]`)
    : event.target.closest(".why-toggle");
  if (toggle && toggle.getAttribute("aria-expanded") === "true") {
    const panel = document.getElementById(toggle.getAttribute("aria-controls"));
    toggle.setAttribute("aria-expanded", "false");
    if (panel) panel.hidden = true;
    toggle.focus();
    return;
  }
  const edit = event.target.closest("#discussion details[open]");
  if (!edit) return;
  edit.open = false;
  edit.querySelector("summary").focus();
});

// It is a button to assistive technology (a link only without script): Space presses it too.
document.addEventListener("keydown", (event) => {
  const toggle = event.target.closest && event.target.closest(".why-toggle");
  if (!toggle || event.key !== " ") return;
  event.preventDefault();  // not a scroll of the page
  toggle.click();
});

// A list filtered in place says what it now holds (its caption, or that nothing matches) in a
// status region that was in the page from the start, so a screen reader hears it.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail && event.detail.target;
  const status = document.getElementById("results-status");
  if (!status || !target || target.id !== "results") return;
  const said = target.querySelector("caption, .empty");
  status.textContent = said ? said.textContent.trim().replace(/\s+/g, " ") : "";
});

// After moving to another page of a list, focus its summary so reading starts at the new rows.
document.addEventListener("htmx:afterSettle", (event) => {
  const from = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
  if (!from || !from.matches || !from.matches("[data-paging]")) return;
  const summary = document.getElementById("ranking-count");
  if (summary) summary.focus();
});

// htmx swaps no 4xx or 5xx answer, so a refused request would change nothing on screen: say
// why beside the form that sent it, and leave what was typed there to copy or send again.
function refusalText(xhr) {
  const type = xhr.getResponseHeader("Content-Type") || "";
  try {
    if (type.includes("json")) {
      const detail = JSON.parse(xhr.responseText).detail;
      if (typeof detail === "string" && detail.trim()) return detail.trim();
    } else if (type.includes("html")) {
      const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const message = page.querySelector('.error[role="alert"], .field-error:not(:empty)')
        || page.querySelector(".error-summary li, .error-summary p");
      if (message && message.textContent.trim()) return message.textContent.trim();
    }
  } catch (_) {
    // An unreadable answer: the status below says enough.
  }
  return `The server answered ${xhr.status}.`;
}

function showRefusal(event, reason) {
  const sender = event.detail && event.detail.elt;
  if (!sender || !sender.isConnected) return;
  const form = sender.closest("form");
  const verb = ((event.detail.requestConfig && event.detail.requestConfig.verb) || "get").toLowerCase();
  let notice = form ? form.querySelector(":scope > [data-refusal]") : sender.nextElementSibling;
  if (!notice || !notice.hasAttribute("data-refusal")) {
    notice = document.createElement("p");
    notice.className = "error";
    notice.setAttribute("role", "alert");
    notice.setAttribute("data-refusal", "");
    notice.tabIndex = -1;
    if (form) form.prepend(notice);
    else sender.insertAdjacentElement("afterend", notice);
  }
  // A service's message as a sentence: a capital first and a full stop last.
  const said = reason.charAt(0).toUpperCase() + reason.slice(1) + (/[.?!]$/.test(reason) ? "" : ".");
  notice.textContent = verb === "get" ? said : `Not saved. ${said} What you typed is still here.`;
  notice.focus();
}

document.addEventListener("htmx:responseError", (event) => showRefusal(event, refusalText(event.detail.xhr)));
document.addEventListener("htmx:sendError", (event) => showRefusal(event, "The portfolio could not be reached; try again in a moment."));
document.addEventListener("htmx:beforeRequest", (event) => {
  const sender = event.detail && event.detail.elt;
  const form = sender && sender.closest && sender.closest("form");
  const old = form ? form.querySelector(":scope > [data-refusal]") : null;
  if (old) old.remove();
});
