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
  if (!message.classList || !message.classList.contains("field-error")) return;
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
