// The page's one script: decisions, clearing the task and following it, balances, links into Airflow.
// No data is ever put into it: what it needs is in the page's <meta> and data-* attributes.
const csrf = document.querySelector("meta[name=fullsms-csrf]").content;
const say = (text) => { document.getElementById("message").textContent = text; };
const FINISHED = new Set(["success", "failed", "upstream_failed", "skipped", "removed"]);

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-FullSMS-CSRF": csrf}, body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || response.statusText);
  return answer;
}

const taskElement = document.getElementById("task");
const task = () => {
  const data = taskElement.dataset;
  return {dag_id: data.dag_id, run_id: data.run_id, task_id: data.task_id, map_index: Number(data.map_index)};
};

document.querySelectorAll("button[data-batch]").forEach((button) => {
  button.addEventListener("click", async () => {
    const batch = Number(button.dataset.batch);
    try {
      if (button.dataset.decision) {
        await post("api/decision", {...task(), batch, decision: button.dataset.decision});
      } else {
        await post("api/decision/withdraw", {...task(), batch});
      }
      location.reload();
    } catch (error) { say("Not recorded: " + error.message); }
  });
});

// After "Clear the task" the page follows the task until its new try is over, then shows it.
async function follow() {
  const query = new URLSearchParams(task());
  let seenRunning = false;
  for (let polls = 1; ; polls += 1) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    let state;
    try {
      const response = await fetch("api/campaign?" + query, {credentials: "same-origin"});
      if (!response.ok) continue;
      state = (await response.json()).task_state;
    } catch (error) { continue; }
    document.getElementById("task-state").textContent = state || "no state";
    if (!FINISHED.has(state)) {
      seenRunning = true;
      say("Cleared: the task will run again. Task state: " + (state || "waiting to be scheduled") + "…");
    } else if (seenRunning || polls > 5) {
      say("The task's new try is over (" + state + "): reloading.");
      location.reload();
      return;
    }
  }
}

const clear = document.getElementById("clear");
if (clear) clear.addEventListener("click", async () => {
  try {
    await post("api/clear", task());
    clear.disabled = true;
    say("Cleared: the task will run again.");
    follow();
  } catch (error) { say("Not cleared: " + error.message); }
});

// Airflow's own pages open in Airflow's window, not in this frame (the frame may not navigate its
// parent: Airflow's router is told instead).
document.querySelectorAll("a[data-airflow]").forEach((link) => {
  link.addEventListener("click", (event) => {
    try {
      if (window.parent === window || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const target = new URL(link.href);
      window.parent.history.pushState({}, "", target.pathname + target.search + target.hash);
      window.parent.dispatchEvent(new PopStateEvent("popstate", {state: {}}));
      event.preventDefault();
    } catch (error) { /* another origin: follow the link in the frame */ }
  });
});

// Every time is written "2025-01-01 09:30:00 UTC" by the server; in the timezone the user chose in
// Airflow (its "timezone" setting in localStorage, as Airflow's UI keeps it), it reads the same way
// with that zone's name instead, the UTC time in its tooltip.
function airflowTimezone() {
  let stored = null;
  try { stored = localStorage.getItem("timezone"); } catch (error) { return "UTC"; }
  if (!stored) return "UTC";
  try { stored = JSON.parse(stored); } catch (error) { /* stored as plain text */ }
  try { new Intl.DateTimeFormat("en", {timeZone: stored}); return stored; } catch (error) { return "UTC"; }
}
const ZONE = airflowTimezone();
const UTC_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/;
function shown(text) {
  const match = UTC_TIME.exec(text.trim());
  if (!match || ZONE === "UTC") return text;
  const moment = new Date(`${match[1]}T${match[2]}Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(moment).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${ZONE}`;
}
function localise(element) {
  const utcText = element.textContent;
  const text = shown(utcText);
  if (text !== utcText) { element.textContent = text; element.title = utcText; }
}
document.querySelectorAll("time").forEach(localise);

const utc = (iso) => iso.replace("T", " ").replace(/(\+00:00|Z)$/, " UTC");

const balances = document.getElementById("read-balances");
if (balances) balances.addEventListener("click", async () => {
  const response = await fetch("api/balances", {credentials: "same-origin"});
  const answer = await response.json();
  const table = document.getElementById("balances");
  table.replaceChildren();
  for (const entry of answer.balances) {
    const row = table.insertRow();
    row.insertCell().textContent = entry.conn_id;
    const amount = row.insertCell();
    amount.className = entry.balance === null ? "attention" : "num";
    amount.textContent = entry.balance === null ? entry.error : entry.balance;
    const when = document.createElement("time");
    when.textContent = utc(entry.read_at);
    localise(when);
    row.insertCell().append(when);
  }
  document.getElementById("balance-table").hidden = false;
});
