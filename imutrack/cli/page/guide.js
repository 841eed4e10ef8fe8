// The guided session's page: renders the guide's state, speaks and sounds its events, sends pause/skip/stop.
// Everything arrives over one WebSocket from imutrack on this computer; nothing is fetched from anywhere else.
"use strict";

const TITLES = {calibrate: "getting ready", turn: "turn", hold: "hold", return: "return", rest: "rest", done: "done"};
const TONES = {  // kind → [[frequency Hz, seconds], …]; 0 Hz is a pause (as imutrack/sound.py)
  tick: [[880, 0.08]], turn: [[660, 0.15]], hold: [[660, 0.12], [0, 0.06], [880, 0.18]],
  "hold end": [[660, 0.15], [0, 0.05], [880, 0.15], [0, 0.05], [990, 0.3]], cue: [[440, 0.12], [0, 0.08], [440, 0.12]],
  praise: [[784, 0.1], [988, 0.15]], done: [[523, 0.15], [659, 0.15], [784, 0.35]], paused: [[330, 0.4]],
  note: [[523, 0.12], [0, 0.06], [523, 0.12], [0, 0.06], [392, 0.2]],
};
const $ = (id) => document.getElementById(id);
let socket = null;
let audio = null;   // an AudioContext once the person turned sound on (browsers need a click first)
let soundOn = false;
let ended = false;

function text(id, value) { $(id).textContent = value; }
function deg(value) { return value === null || value === undefined ? "–" : `${Math.round(value)}°`; }

function render(message) {
  const s = message.state, config = message.config || {};
  const body = document.body;
  body.dataset.phase = s.phase;
  body.dataset.paused = String(Boolean(s.paused));
  body.dataset.timerNote = String(Boolean(s.timer_note));
  let title = TITLES[s.phase] || s.phase;
  if (s.rep >= 1 && s.phase !== "done") {
    title = `${s.side} side, rep ${s.rep}${config.reps_per_side ? " of " + config.reps_per_side : ""}: ${title}`;
  }
  if (config.unassisted) title += " (no hands)";
  text("title", title);
  text("prompt", s.prompt);
  let count = "", label = "";
  if (s.phase === "hold") {
    count = String(Math.ceil(s.hold_remaining_s - 1e-9));
    label = "seconds to hold";
  } else if (s.phase === "rest") {
    count = s.rest_remaining_s > 0 ? String(Math.ceil(s.rest_remaining_s - 1e-9)) : "";
    label = count ? "seconds of rest" : "";
  } else if (s.phase === "turn" || s.phase === "return") {
    count = deg(Math.abs(s.twist_deg));
    label = "twist";
  }
  text("countdown", count);
  text("countdown-label", label);
  const note = $("timer-note");
  note.hidden = !s.timer_note;
  note.textContent = s.timer_note || "";
  const cues = $("cues");
  cues.replaceChildren(...(s.cue_texts || []).map((sentence) => {
    const item = document.createElement("li");
    item.textContent = sentence;
    return item;
  }));
  $("pause").firstChild.textContent = s.paused && s.timer_note.startsWith("Paused") ? "Resume " : "Pause ";
  const scale = 900 / 90;
  $("gauge-bar").setAttribute("width", String(Math.min(900, Math.abs(s.twist_deg || 0) * scale)));
  // with a pelvis sensor, the part of the turn the hips did is drawn grey: the coloured rest is the spine's twist
  const hips = s.pelvis_twist_deg === null || s.pelvis_twist_deg === undefined ? 0 : s.pelvis_twist_deg;
  const towards = Math.sign(s.twist_deg || 0) * hips;
  $("gauge-hips").setAttribute("width", String(Math.min(900, Math.max(0, towards) * scale)));
  const best = (s.best_twist_deg || {})[s.side] || 0;
  const before = (config.best_before || {})[s.side] || 0;
  for (const [id, value] of [["mark-best", best], ["mark-before", before]]) {
    const mark = $(id);
    mark.setAttribute("visibility", value > 0 ? "visible" : "hidden");
    mark.setAttribute("x1", String(Math.min(896, value * scale)));
    mark.setAttribute("x2", String(Math.min(896, value * scale)));
  }
  const parts = [];
  if (s.rep_twist_deg !== null && s.rep_twist_deg !== undefined) parts.push(`this rep ${deg(s.rep_twist_deg)}`);
  parts.push(best > 0 ? `today's best ${deg(best)}` : "no hold yet today");
  if (before > 0) parts.push(`best before ${deg(before)} (dashed)`);
  if (s.spine_twist_deg !== null && s.spine_twist_deg !== undefined) {
    parts.unshift(`spine ${deg(Math.abs(s.spine_twist_deg))}, hips ${deg(Math.abs(hips))} (grey)`);
  }
  text("gauge-text", `${s.side}: ${parts.join(" · ")}`);
}

function cell(row, value, numeric) {
  const td = document.createElement("td");
  td.textContent = value;
  if (numeric) td.className = "num";
  row.appendChild(td);
}

function showSummary(message) {
  $("summary").hidden = false;
  document.body.dataset.summary = "true";
  const reps = $("summary-reps").tBodies[0];
  reps.replaceChildren();
  for (const r of message.reps || []) {
    const row = reps.insertRow();
    cell(row, String(r.rep), true);
    cell(row, r.side);
    cell(row, r.angle_deg === null ? "–" : `${r.angle_deg.toFixed(1)}°`, true);
    cell(row, `${Math.round(r.counted_s)} of ${Math.round(r.target_s)} s`, true);
    cell(row, (r.form || []).join(", ") || "good");
  }
  const sides = $("summary-sides").tBodies[0];
  sides.replaceChildren();
  for (const s of message.sides || []) {
    const row = sides.insertRow();
    cell(row, s.side);
    cell(row, s.today_deg === null ? "–" : `${s.today_deg.toFixed(1)}°`, true);
    cell(row, s.before_deg === null ? "–" : `${s.before_deg.toFixed(1)}°`, true);
    cell(row, s.change || "");
  }
  text("summary-notes", (message.notes || []).join(" "));
}

function ask(message) {
  text("rating-question", message.text);
  const scale = $("rating-scale");
  scale.replaceChildren(...Array.from({length: 11}, (_, value) => {
    const choice = document.createElement("button");
    choice.type = "button";
    choice.textContent = String(value);
    choice.dataset.value = String(value);
    choice.addEventListener("click", () => rate(value));
    return choice;
  }));
  $("rating").hidden = false;
  document.body.dataset.asking = message.when;
  if (soundOn && "speechSynthesis" in window) window.speechSynthesis.speak(new SpeechSynthesisUtterance(message.text));
}

function rate(value) {
  send("rate", value);
  $("rating").hidden = true;
  document.body.dataset.asking = "";
}

function tone(pattern) {
  if (!audio) return;
  let at = audio.currentTime + 0.02;
  for (const [frequency, seconds] of pattern) {
    if (frequency > 0) {
      const oscillator = audio.createOscillator(), gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.3, at + 0.01);
      gain.gain.setValueAtTime(0.3, at + seconds - 0.01);
      gain.gain.linearRampToValueAtTime(0, at + seconds);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + seconds);
    }
    at += seconds;
  }
}

function announce(event) {
  const log = document.body.dataset;
  log.lastEvent = event.text;
  if (!soundOn) return;
  tone(TONES[event.kind] || TONES.turn);
  if ("speechSynthesis" in window && event.text) {
    const words = new SpeechSynthesisUtterance(event.text);
    words.rate = 0.95;
    window.speechSynthesis.speak(words);
  }
}

function send(cmd, value) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(value === undefined ? {cmd} : {cmd, value}));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}${location.pathname.replace(/[^/]*$/, "")}ws`);
  socket.addEventListener("open", () => { text("connection", "connected"); document.body.dataset.connection = "open"; });
  socket.addEventListener("message", (incoming) => {
    const message = JSON.parse(incoming.data);
    if (message.type === "state") render(message);
    else if (message.type === "event") announce(message);
    else if (message.type === "summary") { ended = true; showSummary(message); }
    else if (message.type === "ask") ask(message);
    else if (message.type === "asked") { $("rating").hidden = true; document.body.dataset.asking = ""; }
  });
  socket.addEventListener("close", () => {
    document.body.dataset.connection = "closed";
    text("connection", ended || document.body.dataset.phase === "done"
      ? "the session has ended" : "connection to imutrack lost");
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("pause").addEventListener("click", () => send("pause"));
  $("skip").addEventListener("click", () => send("skip"));
  $("stop").addEventListener("click", () => send("stop"));
  $("rating-skip").addEventListener("click", () => rate(null));
  $("sound").addEventListener("click", () => {
    soundOn = !soundOn;
    if (soundOn && !audio && (window.AudioContext || window.webkitAudioContext)) {
      audio = new (window.AudioContext || window.webkitAudioContext)();
    }
    const noSpeech = !("speechSynthesis" in window);
    text("sound", soundOn ? (noSpeech ? "Sound on (tones only)" : "Sound on") : "Turn on sound");
    if (soundOn) announce({kind: "tick", text: noSpeech ? "" : "Sound on"});
  });
  document.addEventListener("keydown", (key) => {
    if (key.target.tagName === "BUTTON" && key.key === " ") return;  // the focused button gets its own click
    if (document.body.dataset.asking) {  // a rating: the number keys answer it (0 for 0; "t" for 10), Escape skips
      if (/^[0-9]$/.test(key.key)) rate(Number(key.key));
      else if (key.key === "t" || key.key === "T") rate(10);
      else if (key.key === "Escape") rate(null);
      return;
    }
    if (key.key === " ") { send("pause"); key.preventDefault(); }
    else if (key.key === "s" || key.key === "S") send("skip");
    else if (key.key === "q" || key.key === "Q") send("stop");
  });
  connect();
});
