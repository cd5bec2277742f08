// kingme play: the page. Plain JS, no build step; talks to the JSON API in kingme/web/app.py.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const CELL = 60;
const PV_ARROWS = 4;      // plies of a search's line drawn as arrows
const MIN_ARROW = 0.0005; // a move shown as 0.0% gets no arrow
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

let idle = Promise.resolve(); // settles when the running action ends

// One action at a time: another one asked meanwhile is dropped (see `after` for buttons).
async function run(fn) {
  if (busy) return;
  busy = true;
  let done;
  idle = new Promise((resolve) => { done = resolve; });
  render();
  try {
    await fn();
  } catch (err) {
    showError(err.message);
  } finally {
    busy = false;
    done();
    render();
  }
}

// A button's action, run once the action in progress and a change of opponent have ended (the
// click that leaves the opponent's field comes after the field's change).
function after(fn) {
  return async () => { await opponentSet; await idle; fn(); };
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
    // show the human's move at once, before the reply comes: the old position's arrows go
    const before = game;
    const m = game.legal_moves.find((x) => x.move === text);
    if (m) { game = played(game, m); analysis = null; selected = []; render(); }
    try {
      await setGame(await api("POST", `/api/games/${before.id}/move`, { move: text }));
    } catch (err) {
      game = before;
      refreshAnalysis();
      throw err;
    }
  });
}

// The state after the human plays legal move m, as the page shows it while the server answers
// (the board only: no legal moves, no fen, so no analysis of it is drawn).
function played(g, m) {
  const squares = Object.assign({}, g.squares);
  const to = m.path[m.path.length - 1];
  let p = squares[String(m.path[0])];
  delete squares[String(m.path[0])];
  for (const c of m.captures) delete squares[String(c)];
  if (p === "b" && to >= 29) p = "B";
  if (p === "w" && to <= 4) p = "W";
  squares[String(to)] = p;
  return Object.assign({}, g, {
    squares, fen: null, legal_moves: [], your_turn: false, thinking: true,
    line: g.line.slice(0, g.ply).concat([m.move]), ply: g.ply + 1,
    last_move: { move: m.move, path: m.path }, turn: g.turn === "black" ? "white" : "black",
  });
}

let opponentSet = Promise.resolve(); // settles when the last change of opponent has landed

// In analysis mode a new opponent applies at once (the engine-move button and the analysis ask
// it); in a game the opponent is fixed and the field applies to the next game. Not an action
// (`run`): leaving the field to click a button must not disable the button under the click.
function setOpponent() {
  if (!game || game.human !== "both") return;
  const id = game.id;
  opponentSet = api("POST", `/api/games/${id}/opponent`, { opponent: $("opponent").value.trim() })
    .then((state) => { if (game && game.id === id && !busy) setGame(state); })
    .catch((err) => showError(err.message));
}

function post(action, body) {
  return run(async () => setGame(await api("POST", `/api/games/${game.id}/${action}`, body)));
}

// Ask the engine to move: the panel says it thinks, and the position's arrows go meanwhile.
function engineMove() {
  return run(async () => {
    const before = game;
    game = Object.assign({}, game, { thinking: true, your_turn: false });
    render();
    try {
      await setGame(await api("POST", `/api/games/${before.id}/reply`));
    } catch (err) {
      game = before;
      throw err;
    }
  });
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
  for (const [id, fill] of [["head-own", "#c0392b"], ["head-reply", "#555"]]) {
    const mk = el("marker", { id, viewBox: "0 0 10 10", refX: "5", refY: "5", markerWidth: "3", markerHeight: "3", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill }, mk);
  }
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
  if ($("arrows").checked && current()) {
    for (const a of arrowsOf(analysis)) {
      const pts = a.path.map(center).map(([x, y]) => `${x},${y}`).join(" ");
      el("polyline", { points: pts, fill: "none", stroke: a.color, "stroke-opacity": a.opacity, "stroke-width": a.width.toFixed(1), "stroke-linecap": "round", "stroke-linejoin": "round", "marker-end": `url(#${a.head})`, class: a.pv ? "arrow pv" : "arrow", "data-move": a.move }, svg);
      if (a.pv) {
        const [x, y] = center(a.path[0]);
        const t = el("text", { x: x + 14, y: y - 12, class: "pvnum", fill: a.color }, svg);
        t.textContent = a.ply;
      }
    }
  }
}

// The analysis is of the position shown, and nothing is being searched or sent meanwhile.
function current() {
  return !!(game && analysis && !busy && !game.thinking && !game.result && analysis.fen === game.fen);
}

// What the arrows show: a search's line (its choice first, then the replies), else the policy's
// probabilities (a move shown as 0.0% gets none); a player with neither ranks nothing.
function arrowsOf(a) {
  if (a.pv_paths && a.pv_paths.length) {
    return a.pv_paths.slice(0, PV_ARROWS).map((path, i) => ({
      move: a.pv[i], path, pv: true, ply: i + 1,
      color: i % 2 === 0 ? "#c0392b" : "#555", head: i % 2 === 0 ? "head-own" : "head-reply",
      width: i === 0 ? 10 : 5, opacity: i === 0 ? 0.85 : 0.6 - 0.1 * i,
    }));
  }
  if (!a.policy) return [];
  return a.moves.filter((m) => m.prob >= MIN_ARROW).map((m) => ({
    move: m.move, path: m.path, pv: false, color: "#1f77b4", head: "head", width: 2 + 16 * m.prob, opacity: 0.65,
  }));
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
      const num = document.createElement("span");
      num.className = "num";
      num.textContent = `${ol.children.length + 1}.`;
      li.appendChild(num);
      ol.appendChild(li);
      if (!blackMove) { const s = document.createElement("span"); s.className = "mv"; s.textContent = "…"; li.appendChild(s); }
    }
    const s = document.createElement("span");
    s.className = "mv" + (i + 1 === game.ply ? " current" : "") + (i + 1 > game.ply ? " future" : "");
    s.textContent = mv;
    s.dataset.ply = i + 1;
    s.addEventListener("click", () => gotoPly(i + 1));
    li.append(" ");
    li.appendChild(s);
  });
  const cur = ol.querySelector(".current");
  if (cur) cur.scrollIntoView({ block: "nearest" });
}

function signed(x, digits) { return `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`; }

// The panel: the search's conclusion (its choice, its line, its score or a forced result) when
// the model searches, and the network's static view of the position (its value, and its
// policy's probabilities), each labelled, never one beside the other unexplained.
function drawAnalysis() {
  const body = $("probs").querySelector("tbody");
  body.replaceChildren();
  for (const id of ["source", "perfect", "value", "pv"]) $(id).textContent = "";
  $("pv").title = "";
  if (!game) return;
  if (game.result) { $("value").textContent = `the game is over (${game.result}): nothing to estimate`; return; }
  if (game.thinking) { $("source").textContent = "the engine is thinking…"; return; }
  if (busy) { $("source").textContent = "…"; return; }
  if (!analysis || analysis.fen !== game.fen) { $("source").textContent = "analysing…"; return; }
  const a = analysis;
  $("source").textContent = `source: ${a.source}`;
  const side = a.turn === "black" ? "Black" : "White";
  const other = a.turn === "black" ? "White" : "Black";
  const perfect = a.perfect;  // the endgame database's true result, when it covers the position
  if (perfect) {
    const winner = { win: side, loss: other }[perfect.result];
    $("perfect").textContent = `Perfect play: ${winner ? `${winner} wins` : "draw"}`;
  }
  const searched = a.pv !== null || a.search_cut;
  if (a.search_cut) {
    $("pv").textContent = "search: cut by this request's time budget before it finished (no line); the network's static view only";
  } else if (a.pv && a.pv.length) {
    const points = (a.score_units || "").includes("man = 100");
    let verdict;
    if (a.forced) verdict = `${a.forced.win ? side : other} wins by force within ${a.forced.plies} plies`;
    else {
      const units = points ? "hand-written evaluation, a man = 100" : "value at the end of its line, -1..1";
      verdict = `score ${signed(a.score, points ? 0 : 3)} for ${side} (${units})`;
    }
    $("pv").textContent = `search plays ${a.best}: ${verdict}; its line: ${a.pv.join(" ")}`;
    $("pv").title = `score units: ${a.score_units}`;
  }
  let value;
  const staticLabel = searched ? "the network alone, before any search: " : "";
  if (a.value !== null) {
    value = `${staticLabel}value (expected return, -1..1) for ${side} (to move): ${signed(a.value, 2)}`;
    if (a.wdl) {
      const pc = (x) => `${Math.round(100 * x)}%`;
      value += ` (win ${pc(a.wdl.win)}, draw ${pc(a.wdl.draw)}, loss ${pc(a.wdl.loss)})`;
    }
  } else if (!a.critic) value = "value: none (no critic loaded)";
  else value = "value: none (the game is over)";
  $("value").textContent = value;
  const rank = (m) => (m.move === a.best ? 1 : 0);
  const moves = [...a.moves].sort((x, y) => rank(y) - rank(x) || y.prob - x.prob);
  for (const m of moves) {
    const tr = document.createElement("tr");
    tr.dataset.move = m.move;
    const td1 = document.createElement("td"); td1.textContent = m.move;
    const td2 = document.createElement("td"); td2.textContent = a.policy ? `${(100 * m.prob).toFixed(1)}%` : "";
    const td3 = document.createElement("td"); td3.style.width = "40%";
    if (a.policy) {
      const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = `${(100 * m.prob).toFixed(1)}%`;
      td3.appendChild(bar);
    }
    const td4 = document.createElement("td");
    if (m.move === a.best) { tr.classList.add("best"); td4.textContent = "the search's choice"; }
    tr.append(td1, td2, td3, td4);
    const keeps = perfect && perfect.moves[m.move];
    tr.title = keeps ? `play this move (with perfect play after it: ${keeps} for ${side})` : "play this move";
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
  $("opponent").title = game.human === "both"
    ? "the player the engine-move button asks (applies at once)"
    : "the opponent of the next game (press New game)";
}

// --- start -----------------------------------------------------------------------------------
async function init() {
  $("new").addEventListener("click", after(() => newGame()));
  $("undo").addEventListener("click", () => post("undo"));
  $("resign").addEventListener("click", () => { if (confirm("Resign this game?")) post("resign"); });
  $("download").addEventListener("click", download);
  $("first").addEventListener("click", () => gotoPly(0));
  $("prev").addEventListener("click", () => gotoPly(game.ply - 1));
  $("next").addEventListener("click", () => gotoPly(game.ply + 1));
  $("last").addEventListener("click", () => gotoPly(game.line.length));
  $("flip").addEventListener("click", () => { flipped = !flipped; render(); });
  $("bot").addEventListener("click", after(engineMove));
  $("arrows").addEventListener("change", render);
  $("model").addEventListener("change", () => refreshAnalysis());
  $("opponent").addEventListener("change", setOpponent);
  $("load").addEventListener("click", after(loadText));
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
