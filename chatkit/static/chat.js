// The chat page: the exercise's chat.js with the four callbacks, rendering
// every piece of user text with textContent -- never as HTML.
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
  if (msg.type === "note") {
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

function connect(name) {
  setStatus("connecting...", "connecting");
  $("join").disabled = true;  // one connection at a time
  joined = refused = false;
  ws = new WebSocket(address);

  ws.onopen = function (evt) {
    setStatus("connected", "open");
    ws.send(JSON.stringify({type: "join", name: name}));
  };

  ws.onmessage = function (evt) {
    const msg = JSON.parse(evt.data);
    show(msg);
    if (joined) return;
    // The server answers a join with our join note, or with an error.
    if (msg.type === "error") {
      refused = true;
      ws.close(1000, "join refused");
    } else {
      joined = true;
      showForms(true);
    }
  };

  ws.onerror = function (evt) {
    setStatus("error", "error");
    console.error("websocket error", evt);
  };

  ws.onclose = function (evt) {
    if (refused) {
      setStatus("not connected", "");
    } else {
      setStatus(`disconnected (code ${evt.code}${evt.reason ? ": " + evt.reason : ""})`, "closed");
    }
    if (joined) addLine("note", [`disconnected (code ${evt.code})`, ""]);
    joined = false;
    $("join").disabled = false;
    showForms(false);
  };
}

$("join-form").addEventListener("submit", function (evt) {
  evt.preventDefault();
  const name = $("name").value.trim();
  if (name) connect(name);
});

$("chat-form").addEventListener("submit", function (evt) {
  evt.preventDefault();
  const text = $("m").value;
  if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({type: "chat", text: text}));
  $("m").value = "";
});
