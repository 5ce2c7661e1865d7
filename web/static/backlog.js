// Show each weight slider's value beside it as it moves (the re-ranking itself is htmx).
document.addEventListener("input", (event) => {
  const slider = event.target;
  if (!(slider instanceof HTMLInputElement) || slider.type !== "range") return;
  const output = document.getElementById(`${slider.id}_value`);
  if (output) output.textContent = slider.value;
});
