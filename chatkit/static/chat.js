// The chat page: the exercise's chat.js with the four callbacks, rendering
// every piece of user text with textContent -- never as HTML.
//
// It also comes back by itself when its connection drops (Wi-Fi, a sleeping
// laptop, a server restart): it joins asking for ids ("want": ["ids"]), keeps the
// last id it showed, and after a drop waits (exponential backoff, full jitter),
// connects again and joins with "since" and "epoch"; the server's "history"
// answer brings what was said meanwhile, shown once each, in order, with a note
// if some of it is lost (docs/protocol.md; chatkit.core.resume is its twin).
"use strict";

// The room is the URL's last segment, percent-decoded as the server does it:
// a hand-typed "%" that starts no valid escape ("/100%") stays as typed.
function decodeLeniently(segment) {
  return segment.replace(/(%[0-9A-Fa-f]{2})+/g, function (escapes) {
    try { return decodeURIComponent(escapes); } catch (err) { return escapes; }
  });
}

// The page may live under a path prefix (JupyterHub's /user/ann/proxy/8000/people,
// a hub service's /services/chatkit/people): its room's WebSocket is beside it,
// .../chat/<room>, on the same host, and wss: when the page came over https.
const pathname = location.pathname;
const roomName = decodeLeniently(pathname.slice(pathname.lastIndexOf("/") + 1));
const base = pathname.slice(0, pathname.lastIndexOf("/") + 1);
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const address = `${scheme}//${location.host}${base}chat/${encodeURIComponent(roomName)}`;

const $ = (id) => document.getElementById(id);
$("room").textContent = roomName;
document.title = `${roomName} - chatkit`;

let ws = null;
let joined = false;   // has the server accepted our join? Its first answer says.
let refused = false;  // ... or refused it (name taken, too long): try another name

// -- reconnect and resume ----------------------------------------------------------
// Close codes after which the page tries again (the connection dropped, the server
// went away or restarts); not after 1000 (meant) nor 1008 (refused, removed).
const RECONNECT_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);
const ATTEMPTS = 12, BASE_MS = 500, CAP_MS = 15000;
let myName = null;      // the name to join with again (the server's "you" keeps it current)
let retrying = false;   // is the current connection a try to come back?
let attempt = 0;        // tries since the drop
let retryTimer = null;
// The last id shown and the room history's epoch; chats and notes that arrive
// after a join wait ("held") for its history, then go out merged with it.
const resume = {lastId: 0, epoch: null, waiting: false, held: []};

function joinMessage(name) {
  const join = {type: "join", name: name, want: ["ids", "you"]};
  if (resume.epoch !== null) {
    join.since = resume.lastId;
    join.epoch = resume.epoch;
  }
  resume.waiting = true;
  resume.held = [];
  return join;
}

// The messages to show for `msg`, in order: maybe none (a duplicate, or held).
function take(msg) {
  if (msg.type === "history" && "epoch" in msg) {
    let missed = msg.missed;
    if (msg.epoch !== resume.epoch) {
      if (resume.epoch !== null) missed = null;  // a new life of the room
      resume.epoch = msg.epoch;
      resume.lastId = 0;
    }
    const shown = [];
    if (missed === null || missed > 0) shown.push(missedNote(missed));
    const messages = (msg.messages || []).concat(resume.held);
    resume.held = [];
    resume.waiting = false;
    return shown.concat(inOrder(messages));
  }
  if (!Number.isInteger(msg.id)) return [msg];
  if (resume.waiting && resume.held.length < 1000) {
    resume.held.push(msg);
    return [];
  }
  return inOrder([msg]);
}

function inOrder(messages) {
  messages.sort((a, b) => a.id - b.id);
  const shown = [];
  for (const msg of messages) {
    if (msg.id <= resume.lastId) continue;  // shown already
    resume.lastId = msg.id;
    shown.push(msg);
  }
  return shown;
}

function missedNote(missed) {
  const text = missed === null
    ? "the server restarted or forgot this room: messages from while you were away may be missing"
    : `${missed} message${missed === 1 ? "" : "s"} from while you were away ` +
      `${missed === 1 ? "is" : "are"} too old to be shown`;
  return {type: "note", text: text, missed: missed};
}

// Wait, then try again: up to ATTEMPTS tries, each after a random time between 0
// and min(CAP_MS, BASE_MS * 2^n) (full jitter: a class does not come back at once).
function scheduleRetry() {
  if (attempt >= ATTEMPTS) {
    retrying = false;
    $("retry").textContent = `gave up reconnecting after ${ATTEMPTS} tries: join again`;
    return;
  }
  const delay = Math.random() * Math.min(CAP_MS, BASE_MS * 2 ** attempt);
  attempt += 1;
  retrying = true;
  $("retry").textContent = `reconnecting (try ${attempt} of ${ATTEMPTS})...`;
  retryTimer = setTimeout(() => connect(myName, true), delay);
}

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

// Add one line to the log. `parts` are [text, className] pairs: text only.
function addLine(kind, ...parts) {
  const item = document.createElement("li");
  item.className = kind;
  for (const [text, className] of parts) {
    const span = document.createElement("span");
    if (className) span.className = className;
    span.textContent = text;
    item.append(span);
  }
  $("messages").append(item);
  item.scrollIntoView({block: "end"});
}

// Show the join form (not joined) or the chat form (joined).
function showForms(isJoined) {
  $("join-form").hidden = isJoined;
  $("chat-form").hidden = !isJoined;
  if (isJoined) $("m").focus(); else $("name").select();
}

function show(msg) {
  if (msg.type === "note" && "missed" in msg) {
    addLine("note missed", [msg.text, ""]);
  } else if (msg.type === "note") {
    addLine("note", [msg.text, ""]);
  } else if (msg.type === "chat" && msg.private) {
    addLine("chat private", [`${msg.name} → ${msg.to} (private): `, "name"], [msg.text, "text"]);
  } else if (msg.type === "chat") {
    addLine("chat", [`${msg.name}: `, "name"], [msg.text, "text"]);
  } else if (msg.type === "error") {
    addLine("error", ["error: ", "name"], [msg.text, "text"]);
  } else {
    console.error(`bad message: ${JSON.stringify(msg)}`);
  }
}

// Connect and join as `name`; `again`: a try to come back after a drop, which
// changes nothing on the page unless it succeeds.
function connect(name, again) {
  clearTimeout(retryTimer);
  if (ws !== null) {  // a try still under way, replaced by this one
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    if (ws.readyState !== WebSocket.CLOSED) ws.close();
  }
  myName = name;
  retrying = again;
  if (!again) {
    attempt = 0;
    $("retry").textContent = "";
    setStatus("connecting...", "connecting");
    $("join").disabled = true;  // one connection at a time
  }
  joined = refused = false;
  const socket = ws = new WebSocket(address);

  socket.onopen = function (evt) {
    setStatus("connected", "open");
    socket.send(JSON.stringify(joinMessage(name)));
  };

  socket.onmessage = function (evt) {
    const msg = JSON.parse(evt.data);
    if (msg.type === "you") {  // the name the server knows us by (after a /name too)
      myName = msg.name;
      return;
    }
    if (retrying && !joined && msg.type === "error") {
      // Our name may still be held by the connection that dropped, until the server
      // notices (its keepalive): not shown; try again after the next wait.
      socket.close(1000, "join refused, trying again");
      return;
    }
    for (const item of take(msg)) show(item);
    if (joined) return;
    // The server answers a join with our join note (or its history), or with an error.
    if (msg.type === "error") {
      refused = true;
      retrying = false;
      $("retry").textContent = "";
      socket.close(1000, "join refused");
    } else {
      joined = true;
      retrying = false;
      attempt = 0;
      $("retry").textContent = "";
      showForms(true);
    }
  };

  socket.onerror = function (evt) {
    if (retrying) return;  // a try to come back failed: the next one is scheduled
    setStatus("error", "error");
    console.error("websocket error", evt);
  };

  socket.onclose = function (evt) {
    if (retrying && !refused) {  // this try did not get in: wait, try again
      $("join").disabled = false;
      scheduleRetry();
      return;
    }
    if (refused) {
      setStatus("not connected", "");
    } else {
      setStatus(`disconnected (code ${evt.code}${evt.reason ? ": " + evt.reason : ""})`, "closed");
    }
    const wasJoined = joined;
    if (joined) addLine("note", [`disconnected (code ${evt.code})`, ""]);
    joined = false;
    $("join").disabled = false;
    showForms(false);
    if (wasJoined && RECONNECT_CODES.has(evt.code)) {
      attempt = 0;
      scheduleRetry();
    }
  };
}

$("join-form").addEventListener("submit", function (evt) {
  evt.preventDefault();
  const name = $("name").value.trim();
  if (name) connect(name, false);
});

$("chat-form").addEventListener("submit", function (evt) {
  evt.preventDefault();
  const text = $("m").value;
  if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({type: "chat", text: text}));
  $("m").value = "";
});
