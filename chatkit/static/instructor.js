// The instructor's page: the class's rooms, live; mute, remove, announce, export.
// Every piece of user text (names, rooms, messages) goes in with textContent -- never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const base = location.pathname.slice(0, location.pathname.lastIndexOf("/") + 1);
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const address = `${scheme}//${location.host}${base}ws`;
let ws = null;

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A student's text in its own direction: a right-to-left name cannot reorder
// what stands beside it ("(muted)", the next name in a list).
function isolated(text) {
  return el("bdi", text);
}

function addLine(kind, text) {
  const item = el("li", text, kind);
  $("messages").append(item);
  item.scrollIntoView({block: "end"});
}

function act(action) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(action));
}

function button(label, action) {
  const b = el("button", label);
  b.type = "button";
  b.addEventListener("click", () => act(action));
  return b;
}

function since(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

// One table per room: name, since, messages, and the actions on that name.
function showClass(state) {
  const rooms = $("rooms");
  rooms.replaceChildren();
  const names = Object.keys(state.rooms);
  if (names.length === 0) rooms.append(el("p", "Nobody is in any room.", "empty"));
  for (const room of names) {
    const section = el("section", undefined, "room");
    section.dataset.room = room;
    const title = el("h2", "Room ");
    title.append(isolated(room), " ");
    title.append(button("Export transcript", {action: "transcript", room: room}));
    section.append(title);
    const table = el("table");
    // With Redis (several servers), each member's server, in a column of its own.
    const servers = state.rooms[room].some((member) => member.server !== undefined);
    const head = el("tr");
    for (const label of ["name", "since", "messages", ...(servers ? ["server"] : []), ""]) {
      head.append(el("th", label));
    }
    table.append(head);
    for (const member of state.rooms[room]) {
      const row = el("tr", undefined, member.muted ? "member muted" : "member");
      row.dataset.name = member.name;
      const name = el("td", undefined, "name");
      name.append(isolated(member.name), member.muted ? " (muted)" : "");
      row.append(name,
                 el("td", since(member.since)), el("td", String(member.messages)));
      if (servers) row.append(el("td", String(member.server ?? ""), "server"));
      const actions = el("td");
      actions.append(member.muted ? button("Unmute", {action: "unmute", name: member.name})
                                  : button("Mute", {action: "mute", name: member.name}),
                     button("Remove", {action: "remove", name: member.name, room: room}));
      row.append(actions);
      table.append(row);
    }
    section.append(table);
    rooms.append(section);
  }
  const removed = $("removed");
  removed.replaceChildren();
  if (state.removed.length) {
    removed.append("Removed for the rest of the class: ");
    state.removed.forEach((who, n) => removed.append(n ? ", " : "", isolated(who)));
  }
}

// A transcript arrives as JSON lines: the browser saves it as a file.
function download(room, jsonl, omitted) {
  const link = el("a");
  link.href = URL.createObjectURL(new Blob([jsonl], {type: "application/x-ndjson"}));
  link.download = `${room}.jsonl`;
  document.body.append(link);
  link.click();
  link.remove();
  addLine("note", `Transcript of ${room} exported (${jsonl.split("\n").length - 1} lines)` +
          (omitted ? `; the ${omitted} oldest left out (too big for one download).` : "."));
}

let pending = null;  // the code typed, sent when the server asks for it

function connect() {
  setStatus("connecting...", "connecting");
  ws = new WebSocket(address);
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "code") {  // no hub login: the server asks for the instructor code
      if (pending !== null) {
        ws.send(JSON.stringify({type: "login", code: pending}));
        pending = null;
      } else {
        setStatus("instructor code?", "connecting");
        $("login-form").hidden = false;
      }
    } else if (msg.type === "welcome") {
      setStatus("connected", "open");
      $("login-form").hidden = true;
      $("desk").hidden = false;
    } else if (msg.type === "class") {
      showClass(msg);
    } else if (msg.type === "transcript") {
      download(msg.room, msg.jsonl, msg.omitted);
    } else if (msg.type === "error") {
      addLine("error", `error: ${msg.text}`);
    }
  };
  ws.onclose = (event) => {
    setStatus(`disconnected${event.reason ? ": " + event.reason : ""}`, "closed");
    if ($("desk").hidden) $("login-form").hidden = false;
  };
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  pending = $("code").value;
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({type: "login", code: pending}));
    pending = null;
  } else {
    connect();
  }
});
$("announce-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("announcement").value.trim();
  if (text) act({action: "announce", text: text});
  $("announcement").value = "";
});

// Behind a hub the login is the hub's and the desk opens at once; elsewhere the
// server asks for the instructor code first.
connect();
