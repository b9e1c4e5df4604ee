"""
The FullSMS page's HTML: the campaign list and one campaign with its batches. Everything escaped.

Links and ``fetch`` calls are relative, so the page works under any ``base_url`` and inside the
Airflow UI's frame. The one script reads the CSRF token from a ``<meta>`` tag and sends it with
every change; no data is ever put into the script.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from airflow_provider_fullsms.plugins.ledger_view import task_params

if TYPE_CHECKING:
    from airflow_provider_fullsms.plugins.ledger_view import BatchView, CampaignView

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#1d2330}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
td,th{border-bottom:1px solid #ddd;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#f0f2f5}.num{text-align:right}.attention{color:#b3261e;font-weight:600}
.ok{color:#146c2e}.note{background:#fff6e0;border-left:4px solid #e6a700;padding:.6em 1em;margin:1em 0}
button{padding:.3em .8em;margin-right:.3em;cursor:pointer}.muted{color:#666}
form.filters{margin:.6em 0}#message{font-weight:600}
"""

_SCRIPT = """
const csrf = document.querySelector("meta[name=fullsms-csrf]").content;
const say = (text) => { document.getElementById("message").textContent = text; };
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-FullSMS-CSRF": csrf}, body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || response.statusText);
  return answer;
}
const task = () => {
  const data = document.getElementById("task").dataset;
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
const clear = document.getElementById("clear");
if (clear) clear.addEventListener("click", async () => {
  try { await post("api/clear", task()); say("Cleared: the task will run again."); }
  catch (error) { say("Not cleared: " + error.message); }
});
const balances = document.getElementById("read-balances");
if (balances) balances.addEventListener("click", async () => {
  const response = await fetch("api/balances", {credentials: "same-origin"});
  const answer = await response.json();
  const table = document.getElementById("balances");
  table.replaceChildren();
  for (const entry of answer.balances) {
    const row = table.insertRow();
    row.insertCell().textContent = entry.conn_id;
    row.insertCell().textContent = entry.balance === null ? entry.error : entry.balance;
    row.insertCell().textContent = entry.read_at;
  }
});
"""


def _page(title: str, body: str, *, nonce: str, csrf: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='fullsms-csrf' content='{escape(csrf)}'><title>{escape(title)}</title>"
        f"<style nonce='{nonce}'>{_STYLE}</style></head><body>{body}"
        f"<p id='message' role='status'></p><script nonce='{nonce}'>{_SCRIPT}</script></body></html>"
    )


def _figure(value: object) -> str:
    return "-" if value is None else escape(str(value))


def campaign_link(campaign: CampaignView) -> str:
    return "campaign?" + escape(urlencode(task_params(campaign.task)))


def list_page(
    campaigns: list[CampaignView],
    dag_ids: list[str],
    *,
    dag_id: str | None,
    attention: bool,
    nonce: str,
    csrf: str,
) -> str:
    """
    Every campaign the user may read, newest first, with a filter by DAG and by "needs attention".

    :param dag_ids: the DAGs offered in the filter.
    """
    options = "".join(
        f"<option value='{escape(d)}'{' selected' if d == dag_id else ''}>{escape(d)}</option>"
        for d in dag_ids
    )
    rows = []
    for campaign in campaigns:
        task = campaign.task
        where = escape(task.task_id) + (f"[{task.map_index}]" if task.map_index >= 0 else "")
        flag = "<span class='attention'>needs attention</span>" if campaign.needs_attention else ""
        rows.append(
            f"<tr><td>{escape(task.dag_id)}</td><td>{escape(task.run_id)}</td>"
            f"<td><a href='{campaign_link(campaign)}'>{where}</a></td><td>{escape(campaign.started_at)}</td>"
            f"<td class='num'>{_figure(campaign.recipients)}</td><td class='num'>{campaign.sent}</td>"
            f"<td class='num'>{_figure(campaign.invalid)} / {_figure(campaign.excluded)}</td>"
            f"<td class='num'>{len(campaign.unknown)}</td><td class='num'>{campaign.not_started}</td>"
            f"<td class='num'>{_figure(campaign.cost)}</td>"
            f"<td>{_figure(campaign.task_state)} {flag}</td></tr>"
        )
    table = (
        "<table id='campaigns'><tr><th>DAG</th><th>run</th><th>task</th><th>started</th>"
        "<th>recipients</th><th>sent</th><th>invalid / excluded</th><th>unknown batches</th>"
        "<th>batches not started</th><th>cost</th><th>task state</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p class='muted'>No campaign yet: the send operators record one when they run.</p>"
    )
    body = (
        "<h1>FullSMS campaigns</h1>"
        "<form class='filters' method='get'><label>DAG <select name='dag_id'><option value=''>all</option>"
        f"{options}</select></label> <label><input type='checkbox' name='attention' value='1'"
        f"{' checked' if attention else ''}> needs attention only</label> "
        "<button type='submit'>Filter</button>"
        f"</form>{table}"
        "<h2>Balances</h2><p><button id='read-balances' type='button'>Read balances</button> "
        "<span class='muted'>asks FullSMS for each connection's balance (kept for a minute)</span></p>"
        "<table><tbody id='balances'></tbody></table>"
    )
    return _page("FullSMS campaigns", body, nonce=nonce, csrf=csrf)


_CHOICES = {"sent": "It was sent", "resend": "Send it again"}


def _batch_row(batch: BatchView, may_edit: bool) -> str:
    choices = [
        f"<button type='button' data-batch='{batch.index}' data-decision='{value}'>{label}</button>"
        for value, label in _CHOICES.items()
        if value != batch.decision
    ]
    if batch.unknown and batch.decision:
        # Until a try applies it, a decision can be changed or taken back.
        label = _CHOICES[batch.decision].lower()
        action = f"<span class='ok'>recorded: {label}</span> (clear the task to apply it)"
        if may_edit:
            withdraw = f"<button type='button' data-batch='{batch.index}' data-withdraw>Withdraw</button>"
            action += f" {choices[0]}{withdraw}"
    elif batch.unknown and may_edit:
        action = "".join(choices)
    else:
        action = ""
    state = f"<span class='attention'>{escape(batch.state)}</span>" if batch.unknown else escape(batch.state)
    return (
        f"<tr data-batch='{batch.index}'><td class='num'>{batch.index}</td><td>{state}</td>"
        f"<td class='num'>{batch.recipients}</td><td class='num'>{batch.sent}</td>"
        f"<td>{_figure(batch.campaign_id)}</td><td>{_figure(batch.at)}</td>"
        f"<td>{_figure(batch.error)}</td><td>{action}</td></tr>"
    )


def campaign_page(campaign: CampaignView, *, may_edit: bool, nonce: str, csrf: str) -> str:
    """
    One campaign: its figures, its batches, and for each unknown batch what a person can say.

    :param may_edit: whether the user may change this DAG's task instances (decide and clear).
    """
    task = campaign.task
    rows = "".join(_batch_row(batch, may_edit) for batch in campaign.batches)
    note = ""
    if campaign.unknown:
        note = (
            "<div class='note'>FullSMS may or may not have sent the batches marked <b>unknown</b>: "
            "nobody will resend them on their own. Check in FullSMS, then say for each one "
            "<b>It was sent</b> or <b>Send it again</b>. <b>Clearing the task applies your decisions</b>: "
            "its next try skips what was sent and sends what you said to send again."
            + (" <button id='clear' type='button'>Clear the task</button>" if may_edit else "")
            + "</div>"
        )
    body = (
        "<p><a href='./'>All campaigns</a></p>"
        f"<h1>{escape(task.dag_id)} · {escape(task.run_id)} · {escape(task.task_id)}"
        + (f"[{task.map_index}]" if task.map_index >= 0 else "")
        + "</h1>"
        f"<p>Started {escape(campaign.started_at)}; task {_figure(campaign.task_state)}. "
        f"Recipients {_figure(campaign.recipients)}, sent <b id='sent'>{campaign.sent}</b>, "
        f"invalid {_figure(campaign.invalid)}, excluded {_figure(campaign.excluded)}, "
        f"cost {_figure(campaign.cost)}. Batches: {campaign.planned_batches}, "
        f"unknown {len(campaign.unknown)}, not sent {len(campaign.not_sent)}, "
        f"not started {campaign.not_started}.</p>{note}"
        "<table id='batches'><tr><th>batch</th><th>state</th><th>recipients</th><th>sent</th>"
        "<th>FullSMS campaign</th><th>sent at</th><th>error</th><th></th></tr>"
        f"{rows}</table>"
    )
    # The script reads which task this is from here.
    data = "".join(f" data-{name}='{escape(value)}'" for name, value in task_params(task).items())
    body = f"<main id='task'{data}>{body}</main>"
    return _page(f"FullSMS campaign {task.task_id}", body, nonce=nonce, csrf=csrf)
