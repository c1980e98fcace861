// The page: gather an image (file, drop, paste, drawing or test image), send it to
// /api/predict, show the 28x28 input, the saliency overlay, the top classes and the model card.
"use strict";

const $ = (id) => document.getElementById(id);
let drawn = false;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "";
}

function showResult(answer, truth) {
  $("error").hidden = true;
  $("status").textContent = "";
  $("seen").src = answer.input_png;
  $("seen-under").src = answer.input_png;
  $("saliency").src = answer.saliency_png;
  $("top1").textContent = answer.label;
  $("truth").textContent = truth ? ` (the test set says: ${truth})` : "";
  const bars = $("bars");
  bars.replaceChildren();
  for (const row of answer.top) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = row.label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = `${(100 * row.probability).toFixed(1)}%`;
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = percent(row.probability);
    li.append(name, bar, pct);
    bars.append(li);
  }
  $("result").hidden = false;
}

// A percentage that never rounds to a false certainty: 99.97% is ">99.9%", 0.02% is "<0.1%".
function percent(p) {
  if (p > 0.999 && p < 1) return ">99.9%";
  if (p > 0 && p < 0.001) return "<0.1%";
  return `${(100 * p).toFixed(1)}%`;
}

async function classify(blob, filename, truth) {
  const form = new FormData();
  form.append("image", blob, filename || "image");
  $("status").textContent = "Classifying…";
  let response;
  try {
    response = await fetch("/api/predict?top_k=3&explain=true", { method: "POST", body: form });
  } catch (err) {
    showError(`The server did not answer (${err.message}).`);
    return;
  }
  let body;
  try {
    body = await response.json();
  } catch (err) {
    showError(`The server answered ${response.status} without a readable body.`);
    return;
  }
  if (!response.ok) {
    $("result").hidden = true;
    showError(body.error || `Error ${response.status}`);
    return;
  }
  showResult(body, truth);
}

// --- files: pick, drop, paste ------------------------------------------------------------------
$("file-input").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) classify(file, file.name);
  event.target.value = "";
});
const zone = $("drop-zone");
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  const file = event.dataTransfer.files[0];
  if (file) classify(file, file.name);
});
document.addEventListener("paste", (event) => {
  for (const item of event.clipboardData.items) {
    if (item.kind === "file") {
      classify(item.getAsFile(), "pasted");
      return;
    }
  }
});

// --- drawing -----------------------------------------------------------------------------------
const canvas = $("canvas");
const ctx = canvas.getContext("2d");
function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  drawn = false;
}
clearCanvas();
let drawing = false;
function point(event) {
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * canvas.width / rect.width,
          (event.clientY - rect.top) * canvas.height / rect.height];
}
canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(x, y);
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  ctx.lineTo(x, y);
  ctx.stroke();
  drawn = true;
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  if (drawn) classifyDrawing();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
function classifyDrawing() {
  canvas.toBlob((blob) => classify(blob, "drawing.png"), "image/png");
}
$("classify-drawing").addEventListener("click", classifyDrawing);
$("clear").addEventListener("click", clearCanvas);

// --- random test image -------------------------------------------------------------------------
$("random").addEventListener("click", async () => {
  const response = await fetch("/api/random");
  const body = await response.json();
  if (!response.ok) {
    showError(body.error || `Error ${response.status}`);
    return;
  }
  const blob = await (await fetch(body.image)).blob();
  classify(blob, `test-${body.index}.png`, body.label);
});

$("show-saliency").addEventListener("change", (event) => {
  $("saliency").style.visibility = event.target.checked ? "visible" : "hidden";
});

// --- the model card ----------------------------------------------------------------------------
async function loadCard() {
  const response = await fetch("/api/model");
  const card = await response.json();
  $("model-name").textContent = card.preset ? `· ${card.preset} model` : "";
  $("random").hidden = !card.random_images;
  const rows = [
    ["Architecture", card.architecture.join(" → ")],
    ["Parameters", card.parameters.toLocaleString("en")],
    ["Test accuracy", card.test_accuracy == null ? "not measured"
      : `${(100 * card.test_accuracy).toFixed(2)}%`],
    ["Trained", card.trained || "unknown"],
    ["Epochs", card.epochs == null ? "unknown" : String(card.epochs)],
    ["Classes", card.classes.join(", ")],
    ["Upload limit", `${(card.max_upload_bytes / 1048576).toFixed(0)} MB, `
      + `${(card.max_pixels / 1e6).toFixed(0)} megapixels`],
  ];
  const dl = $("card");
  dl.replaceChildren();
  for (const [name, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dl.append(dt, dd);
  }
  document.body.dataset.ready = "true";
}
loadCard();
