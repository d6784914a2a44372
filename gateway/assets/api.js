// Latchkey portal: talking to the JSON API and following jobs.

const csrfToken = () =>
  document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** Sends `body` to the API; resolves to {ok, status, data}. */
export async function api(path, method = "GET", body = undefined) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    return {
      ok: false,
      status: 0,
      data: { detail: "The portal cannot be reached. Check your connection and try again." },
    };
  }
  let data = {};
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = { detail: `The server answered ${response.status} without details. Please try again.` };
    }
  }
  return { ok: response.ok, status: response.status, data };
}

// ---- Jobs ---------------------------------------------------------------

const stateWords = {
  queued: "Pending",
  running: "In progress",
  succeeded: "Done",
  superseded: "Replaced by a newer change",
  failed: "Failed",
};

function describeJob(job) {
  let text = stateWords[job.state] ?? job.state;
  if (job.kind === "encrypt_mailbox" && job.total > 0) {
    text += `: ${job.done} of ${job.total} messages`;
  } else if (job.state === "queued") {
    text += ": waiting for a worker";
  }
  if (job.error) text += `: ${job.error}`;
  return text;
}

/** Polls a job until it ends, calling `update(job)` each time. */
export async function follow(id, update) {
  for (;;) {
    const { ok, status, data } = await api(`/api/jobs/${encodeURIComponent(id)}`);
    if (!ok) {
      update({ state: "failed", error: status === 401 ? "your session ended; sign in again" : data.detail });
      return null;
    }
    update(data);
    if (["succeeded", "superseded", "failed"].includes(data.state)) return data;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function showJobIn(node, job) {
  node.textContent = describeJob(job);
  node.className = node.className.replace(/\b(queued|running|succeeded|superseded|failed)\b/g, "").trim();
  node.classList.add("state", job.state);
}

export function followProgress(panel) {
  const bar = panel.querySelector("progress");
  const text = panel.querySelector("[data-progress-text]");
  return follow(panel.dataset.job, (job) => {
    if (job.total > 0) {
      bar.max = job.total;
      bar.value = job.done;
    } else if (job.state === "succeeded") {
      bar.max = 1;
      bar.value = 1;
    }
    text.textContent = describeJob(job);
    panel.dataset.state = job.state;
  });
}
