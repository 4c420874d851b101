// The video3d-serve page: upload a video as a job, follow its progress, then play the annotated
// video with its label timeline (click to seek) and the current window's top-5. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
let windows = [];
let segments = [];
let duration = 0;

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
  if (isError) document.body.dataset.state = "failed";
}

function errorText(xhrOrResponseText, status) {
  try { return JSON.parse(xhrOrResponseText).error || `HTTP ${status}`; } catch (e) { return `HTTP ${status}`; }
}

fetch("/v1/model").then((r) => r.json()).then((m) => {
  const a = m.architecture;
  $("model").textContent = `model ${a.model_name} (${a.arch}-${a.depth}, ${a.head} head), ` +
    `${m.num_classes} classes, input ${m.input_shape.join("x")}, ${m.checkpoint.file} ` +
    `${m.checkpoint.checksum.slice(0, 19)}…`;
}).catch(() => { $("model").textContent = "model information unavailable"; });

const drop = $("drop");
drop.addEventListener("click", () => $("file-input").click());
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) start(e.dataTransfer.files[0]);
});
$("file-input").addEventListener("change", (e) => { if (e.target.files.length) start(e.target.files[0]); });

function start(file) {
  windows = []; segments = []; duration = 0;
  $("result").style.display = "none";
  $("upload-progress").value = 0;
  $("job-progress").value = 0;
  document.body.dataset.state = "uploading";
  setStatus(`uploading ${file.name}…`);
  const form = new FormData();
  form.append("video", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/jobs");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) $("upload-progress").value = e.loaded / e.total; };
  xhr.onerror = () => setStatus("upload failed: the server did not answer", true);
  xhr.onload = () => {
    if (xhr.status !== 202) { setStatus(errorText(xhr.responseText, xhr.status), true); return; }
    $("upload-progress").value = 1;
    document.body.dataset.state = "processing";
    poll(JSON.parse(xhr.responseText).id);
  };
  xhr.send(form);
}

async function poll(id) {
  let job;
  try {
    const response = await fetch(`/v1/jobs/${id}?since=${windows.length}`);
    if (!response.ok) { setStatus(errorText(await response.text(), response.status), true); return; }
    job = await response.json();
  } catch (e) { setStatus("lost the server while processing", true); return; }
  windows.push(...job.windows);
  $("job-progress").value = job.progress;
  if (job.state === "failed") { setStatus(job.error, true); return; }
  if (job.state !== "done") {
    setStatus(`processing ${job.source}: ${job.windows_total} windows` +
      (job.frames_total ? `, frame ${job.frames_done} of ${job.frames_total}` : ""));
    setTimeout(() => poll(id), 400);
    return;
  }
  await show(job);
}

async function show(job) {
  const top = job.prediction.top5[0];
  $("video-label").textContent = top.name;
  $("video-score").textContent = `(${top.score.toFixed(3)})`;
  const files = job.files;
  try { const doc = await (await fetch(files["segments.json"])).json(); segments = doc.segments; duration = doc.duration; }
  catch (e) { segments = []; }
  $("files").innerHTML = "";
  for (const [name, url] of Object.entries(files)) {
    const link = document.createElement("a");
    link.href = url; link.textContent = name; link.download = name;
    $("files").appendChild(link);
  }
  $("timeline-png").src = files["timeline.png"] || "";
  const player = $("player");
  player.src = files["annotated.mp4"];
  $("result").style.display = "block";
  setStatus(`${job.source}: ${job.windows_total} windows`);
  drawTimeline();
  showWindow(0);
  document.body.dataset.state = "done";
}

function classColour(k) { return `hsl(${(k * 137.5) % 360}, 60%, 55%)`; }

function drawTimeline() {
  const canvas = $("timeline");
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const total = timelineSeconds();
  if (!total) return;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  for (const s of segments) {
    const x0 = (s.start / total) * width, x1 = (s.end / total) * width;
    ctx.fillStyle = classColour(s.class);
    ctx.fillRect(x0, 0, Math.max(x1 - x0, 1), height);
    if (x1 - x0 > ctx.measureText(s.label).width + 6) { ctx.fillStyle = "#fff"; ctx.fillText(s.label, x0 + 3, height / 2); }
  }
  const x = ($("player").currentTime / total) * width;
  ctx.fillStyle = "#000";
  ctx.fillRect(x - 1, 0, 2, height);
}

function timelineSeconds() {
  const player = $("player");
  return Number.isFinite(player.duration) && player.duration > 0 ? player.duration : duration;
}

function nearestWindow(t) {
  let best = 0;
  windows.forEach((w, i) => {
    const centre = (w.start_time + w.end_time) / 2, bestCentre = (windows[best].start_time + windows[best].end_time) / 2;
    if (Math.abs(centre - t) < Math.abs(bestCentre - t)) best = i;
  });
  return best;
}

function showWindow(t) {
  if (!windows.length) return;
  const w = windows[nearestWindow(t)];
  $("window-time").textContent = `${w.start_time.toFixed(2)}–${w.end_time.toFixed(2)} s`;
  const table = $("window-top5");
  table.innerHTML = "";
  for (const entry of w.topk) {
    const row = table.insertRow();
    row.insertCell().textContent = entry.name;
    const score = row.insertCell();
    score.textContent = entry.score.toFixed(3);
    score.className = "score";
  }
  // FFC models: the window's label is the vote of the head's seven outputs
  $("window-vote").textContent = w.vote ? `vote: ${w.vote.name} (${w.vote.votes} of ${w.vote.outputs} outputs)` : "";
}

$("player").addEventListener("timeupdate", () => { showWindow($("player").currentTime); drawTimeline(); });
$("player").addEventListener("loadedmetadata", drawTimeline);
$("timeline").addEventListener("click", (e) => {
  const total = timelineSeconds();
  if (!total) return;
  const box = e.target.getBoundingClientRect();
  $("player").currentTime = ((e.clientX - box.left) / box.width) * total;
  showWindow($("player").currentTime);
  drawTimeline();
});
new ResizeObserver(drawTimeline).observe($("timeline"));  // the page scrollbar appearing narrows it too
