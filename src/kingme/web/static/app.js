// kingme play: the page. Plain JS, no build step; talks to the JSON API in kingme/web/app.py.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const CELL = 60;
const $ = (id) => document.getElementById(id);

let game = null;       // the last state from the server
let analysis = null;   // the last analysis of game's position
let selected = [];     // squares clicked so far (a path prefix of a legal move)
let busy = false;
let flipped = false;
let requests = 0;      // API requests started so far
let errorAt = 0;       // the number of the request whose error the banner shows (0: none)

// --- geometry (the same numbering as kingme.checkers.render.square_coords) ----------------------
function coords(sq) {
  const row = Math.floor((sq - 1) / 4), idx = (sq - 1) % 4;
  const col = row % 2 === 0 ? 2 * idx + 1 : 2 * idx;
  return flipped ? [7 - row, 7 - col] : [row, col];
}
function center(sq) {
  const [r, c] = coords(sq);
  return [c * CELL + CELL / 2, r * CELL + CELL / 2];
}
function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// --- API ------------------------------------------------------------------------------------
// The error banner shows the error of the latest request that failed, until a request started
// after it succeeds (then the banner goes).
async function api(method, path, body) {
  const n = ++requests;
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, opts);
  } catch (err) {
    errorAt = n;
    throw new Error(`the server does not answer (${err.message})`);
  }
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { const j = await r.json(); if (j.detail) msg = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (e) { /* not JSON */ }
    errorAt = n;
    throw new Error(msg);
  }
  if (n > errorAt) showError("");
  return r.status === 204 ? null : r.json();
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg || "";
  e.hidden = !msg;
}

async function run(fn) {
  if (busy) return;
  busy = true;
  render();
  try {
    await fn();
  } catch (err) {
    showError(err.message);
  } finally {
    busy = false;
    render();
  }
}

async function setGame(state) {
  game = state;
  selected = [];
  localStorage.setItem("kingme.game", game.id);
  render();
  refreshAnalysis(); // not awaited: the board is usable while the model thinks
  if (game.thinking) setTimeout(pollThinking, 500, game.id); // e.g. reloaded during a search
}

async function pollThinking(id) {
  if (!game || game.id !== id || !game.thinking) return;
  try { await setGame(await api("GET", `/api/games/${id}`)); } catch (err) { showError(err.message); }
}

async function refreshAnalysis() {
  if (!game) return;
  const id = game.id, ply = game.ply, fen = game.fen;
  const model = $("model").value.trim();
  const q = model ? `?model=${encodeURIComponent(model)}` : "";
  try {
    const a = await api("GET", `/api/games/${id}/analysis${q}`);
    if (!game || game.id !== id || game.ply !== ply || game.fen !== fen) return; // stale
    analysis = a;
  } catch (err) {
    analysis = null;
    showError(`analysis: ${err.message}`);
  }
  render();
}

// --- actions ----------------------------------------------------------------------------------
function newGame(extra) {
  return run(async () => {
    const body = Object.assign({ human: $("color").value, opponent: $("opponent").value.trim() || null }, extra || {});
    const old = game;
    const state = await api("POST", "/api/games", body);
    if (old) api("DELETE", `/api/games/${old.id}`).catch(() => {});
    flipped = state.human === "white";
    await setGame(state);
  });
}

function sendMove(text) {
  return run(async () => {
    // show the human's move at once, before the reply comes
    setStatus("thinking…");
    await setGame(await api("POST", `/api/games/${game.id}/move`, { move: text }));
  });
}

function post(action, body) {
  return run(async () => setGame(await api("POST", `/api/games/${game.id}/${action}`, body)));
}

function gotoPly(ply) {
  if (!game || ply < 0 || ply > game.line.length || ply === game.ply) return;
  post("goto", { ply });
}

function download() {
  if (!game) return;
  const a = document.createElement("a");
  a.href = `/api/games/${game.id}/pdn`;
  a.download = `kingme-${game.id}.pdn`;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function loadText() {
  const text = $("load-text").value.trim();
  if (!text) { showError("paste a FEN or a PDN first"); return; }
  const isPdn = text.includes("[") || /\d+\.\s/.test(text) || /\d[-x]\d/.test(text.replace(/^[BW]:.*$/, ""));
  $("color").value = "both";
  newGame(isPdn ? { pdn: text, ply: 0, human: "both" } : { fen: text, human: "both" });
}

// --- clicking on the board -------------------------------------------------------------------
function candidates() {
  return game.legal_moves.filter((m) => selected.every((s, i) => m.path[i] === s));
}
function nextSquares() {
  const out = new Set();
  for (const m of candidates()) if (m.path.length > selected.length) out.add(m.path[selected.length]);
  return out;
}
function onSquare(sq) {
  if (!game || busy || !game.your_turn) return;
  const starts = new Set(game.legal_moves.map((m) => m.path[0]));
  if (selected.length && nextSquares().has(sq)) {
    selected.push(sq);
    const done = game.legal_moves.find((m) => m.path.length === selected.length && m.path.every((s, i) => s === selected[i]));
    if (done) { sendMove(done.move); return; }
  } else if (starts.has(sq)) {
    selected = selected.length === 1 && selected[0] === sq ? [] : [sq];
  } else {
    selected = [];
  }
  render();
}

// --- drawing ---------------------------------------------------------------------------------
function setStatus(text) { $("status").textContent = text; }

function drawBoard() {
  const svg = $("board");
  svg.replaceChildren();
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: "5", refY: "5", markerWidth: "3", markerHeight: "3", orient: "auto-start-reverse" }, defs);
  el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#1f77b4" }, marker);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) {
    el("rect", { x: c * CELL, y: r * CELL, width: CELL, height: CELL, fill: (r + c) % 2 ? "#b58863" : "#f0d9b5" }, svg);
  }
  if (!game) return;
  const last = game.last_move ? game.last_move.path : [];
  const targets = selected.length ? nextSquares() : new Set();
  const movable = new Set(game.your_turn && !busy ? game.legal_moves.map((m) => m.path[0]) : []);
  for (let sq = 1; sq <= 32; sq++) {
    const [r, c] = coords(sq);
    const g = el("g", { class: "sq", "data-square": sq }, svg);
    let fill = "transparent";
    if (last.includes(sq)) fill = "rgba(80,160,255,0.45)";
    if (selected.includes(sq)) fill = "rgba(255,215,0,0.6)";
    el("rect", { x: c * CELL, y: r * CELL, width: CELL, height: CELL, fill, class: "hit" }, g);
    if (targets.has(sq)) {
      el("rect", { x: c * CELL + 2, y: r * CELL + 2, width: CELL - 4, height: CELL - 4, fill: "rgba(127,201,127,0.55)", stroke: "#2e7d32", "stroke-width": 3, class: "target", "data-target": sq }, g);
    }
    const t = el("text", { x: c * CELL + 3, y: r * CELL + 12, class: "num" }, g);
    t.textContent = sq;
    g.addEventListener("click", () => onSquare(sq));
  }
  // the piece being moved is drawn on the last square clicked
  const moving = selected.length > 1 ? game.squares[String(selected[0])] : null;
  for (const [key, p] of Object.entries(game.squares)) {
    let sq = Number(key);
    if (moving && sq === selected[0]) sq = selected[selected.length - 1];
    const [cx, cy] = center(sq);
    const black = p.toLowerCase() === "b";
    const pg = el("g", { class: "piece", "data-square": sq, "data-piece": p }, svg);
    el("circle", { cx, cy, r: CELL * 0.38, fill: black ? "#222" : "#eee", stroke: movable.has(sq) ? "#2e7d32" : black ? "#000" : "#555", "stroke-width": movable.has(sq) ? 3 : 2 }, pg);
    el("circle", { cx, cy, r: CELL * 0.27, fill: "none", stroke: black ? "#444" : "#ccc", "stroke-width": 1.5 }, pg);
    if (p === "B" || p === "W") {
      const k = el("text", { x: cx, y: cy + CELL * 0.12, "font-size": CELL * 0.36, "text-anchor": "middle", fill: "#d4af37", "font-weight": "bold" }, pg);
      k.textContent = "K";
    }
  }
  if ($("arrows").checked && analysis && analysis.fen === game.fen && !game.result) {
    for (const m of analysis.moves) {
      if (m.prob <= 0) continue;
      const pts = m.path.map(center).map(([x, y]) => `${x},${y}`).join(" ");
      el("polyline", { points: pts, fill: "none", stroke: "#1f77b4", "stroke-opacity": 0.65, "stroke-width": (2 + 16 * m.prob).toFixed(1), "stroke-linecap": "round", "stroke-linejoin": "round", "marker-end": "url(#head)", class: "arrow", "data-move": m.move }, svg);
    }
  }
}

function drawMoves() {
  const ol = $("moves");
  ol.replaceChildren();
  if (!game) return;
  const whiteFirst = game.start_turn === "white";
  let li = null;
  game.line.forEach((mv, i) => {
    const blackMove = (i % 2 === 0) !== whiteFirst;
    if (blackMove || li === null) {
      li = document.createElement("li");
      ol.appendChild(li);
      if (!blackMove) { const s = document.createElement("span"); s.className = "mv"; s.textContent = "…"; li.appendChild(s); }
    }
    const s = document.createElement("span");
    s.className = "mv" + (i + 1 === game.ply ? " current" : "") + (i + 1 > game.ply ? " future" : "");
    s.textContent = mv;
    s.dataset.ply = i + 1;
    s.addEventListener("click", () => gotoPly(i + 1));
    if (li.childNodes.length) li.append(" ");
    li.appendChild(s);
  });
  const cur = ol.querySelector(".current");
  if (cur) cur.scrollIntoView({ block: "nearest" });
}

function drawAnalysis() {
  const body = $("probs").querySelector("tbody");
  body.replaceChildren();
  $("source").textContent = "";
  $("value").textContent = "";
  $("pv").textContent = "";
  if (!game || !analysis || analysis.fen !== game.fen) return;
  $("source").textContent = `source: ${analysis.source}`;
  const side = analysis.turn === "black" ? "Black" : "White";
  let value;
  if (analysis.value !== null) {
    const v = analysis.value;
    value = `value (expected return, -1..1) for ${side} (to move): ${v >= 0 ? "+" : ""}${v.toFixed(2)}`;
    if (analysis.wdl) {
      const pc = (x) => `${Math.round(100 * x)}%`;
      value += ` (win ${pc(analysis.wdl.win)}, draw ${pc(analysis.wdl.draw)}, loss ${pc(analysis.wdl.loss)})`;
    }
  } else if (!analysis.critic) value = "value: none (no critic loaded)";
  else value = "value: none (the game is over)";
  $("value").textContent = value;
  $("pv").textContent = analysis.pv
    ? `best line: ${analysis.pv.join(" ") || "(none)"}; score ${analysis.score >= 0 ? "+" : ""}${analysis.score} (${analysis.score_units})`
    : "";
  const moves = [...analysis.moves].sort((a, b) => b.prob - a.prob);
  for (const m of moves) {
    const tr = document.createElement("tr");
    tr.dataset.move = m.move;
    const td1 = document.createElement("td"); td1.textContent = m.move;
    const td2 = document.createElement("td"); td2.textContent = `${(100 * m.prob).toFixed(1)}%`;
    const td3 = document.createElement("td"); td3.style.width = "50%";
    const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = `${(100 * m.prob).toFixed(1)}%`;
    td3.appendChild(bar);
    tr.append(td1, td2, td3);
    tr.title = "play this move";
    tr.addEventListener("click", () => { if (game.your_turn && !busy) sendMove(m.move); });
    body.appendChild(tr);
  }
}

function render() {
  drawBoard();
  drawMoves();
  drawAnalysis();
  const res = $("result");
  if (!game) return;
  if (game.result) {
    res.hidden = false;
    res.textContent = `${game.result} — ${game.reason}`;
  } else if (game.recorded_result && game.ply === game.line.length) {
    res.hidden = false;
    res.textContent = `recorded result: ${game.recorded_result}`;
  } else {
    res.hidden = true;
  }
  const side = game.turn === "black" ? "Black" : "White";
  const atEnd = game.ply === game.line.length;
  let status;
  if (busy || game.thinking) status = "thinking…";
  else if (game.result) status = "game over";
  else if (game.human === "both") status = `${side} to move (analysis: you play both sides)`;
  else if (game.your_turn) status = `your move (${side})` + (selected.length > 1 ? " — keep jumping" : "");
  else status = `${side} (${game.opponent}) to move — press "engine move"`;
  if (!atEnd) status += ` · at move ${game.ply} of ${game.line.length}`;
  setStatus(status);
  $("undo").disabled = busy || (game.ply === 0 && !game.result);
  $("resign").disabled = busy || !!game.result || game.human === "both";
  $("first").disabled = $("prev").disabled = busy || game.ply === 0;
  $("next").disabled = $("last").disabled = busy || atEnd;
  // the engine moves on its own turn (or for either side in analysis mode), never for you
  const yours = game.human !== "both" && game.turn === game.human;
  $("bot").disabled = busy || game.thinking || !!game.result || yours;
  $("bot").title = yours ? "it is your move: the engine moves on its own turn" : "ask the engine to move now";
  $("new").disabled = busy;
}

// --- start -----------------------------------------------------------------------------------
async function init() {
  $("new").addEventListener("click", () => newGame());
  $("undo").addEventListener("click", () => post("undo"));
  $("resign").addEventListener("click", () => { if (confirm("Resign this game?")) post("resign"); });
  $("download").addEventListener("click", download);
  $("first").addEventListener("click", () => gotoPly(0));
  $("prev").addEventListener("click", () => gotoPly(game.ply - 1));
  $("next").addEventListener("click", () => gotoPly(game.ply + 1));
  $("last").addEventListener("click", () => gotoPly(game.line.length));
  $("flip").addEventListener("click", () => { flipped = !flipped; render(); });
  $("bot").addEventListener("click", () => post("reply"));
  $("arrows").addEventListener("change", render);
  $("model").addEventListener("change", () => refreshAnalysis());
  $("load").addEventListener("click", loadText);
  document.addEventListener("keydown", (e) => {
    if (!game || e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA") return;
    if (e.key === "ArrowLeft") gotoPly(game.ply - 1);
    if (e.key === "ArrowRight") gotoPly(game.ply + 1);
  });
  try {
    const info = await api("GET", "/api/players");
    $("opponent").value = info.default;
    for (const s of info.suggested.concat(info.kinds)) {
      const o = document.createElement("option"); o.value = s; $("specs").appendChild(o);
    }
  } catch (err) { showError(err.message); }
  const saved = localStorage.getItem("kingme.game");
  if (saved) {
    try {
      const state = await api("GET", `/api/games/${saved}`);
      $("color").value = state.human;
      $("opponent").value = state.opponent;
      flipped = state.human === "white";
      await setGame(state);
      return;
    } catch (err) { /* gone: start a new one */ }
  }
  await newGame();
}

init();
