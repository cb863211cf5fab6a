// The playground page: draws what Slack would show from the Block Kit JSON the Slack stand-in received,
// and sends what a person does (a command, a click, a submitted form, a file) to the playground server,
// which turns it into the signed requests Slack sends the bot. Plain JavaScript, no build step.
"use strict";

const ui = {
  me: "U0ALICE",
  where: "C0OPS", // a channel id, the DM's id, or "home"
  thread: null, // ts of the open thread
  data: null,
  modalKey: null,
  refreshing: false,
  again: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ as: ui.me, ...body }),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// -- state ------------------------------------------------------------------------------------------

async function refresh() {
  if (ui.refreshing) {
    ui.again = true;
    return;
  }
  ui.refreshing = true;
  try {
    do {
      ui.again = false;
      const response = await fetch(`/state?as=${encodeURIComponent(ui.me)}`);
      ui.data = await response.json();
      render();
    } while (ui.again);
  } finally {
    ui.refreshing = false;
  }
}

function personName(id) {
  if (id === "U0BOT") return "bland";
  const person = (ui.data?.people || []).find((p) => p.id === id);
  return person ? person.name : id;
}

function channelName(id) {
  const channel = (ui.data?.channels || []).find((c) => c.id === id);
  if (channel) return channel.name;
  if (id && id.startsWith("D")) return "bland (direct messages)";
  return id;
}

// -- mrkdwn -----------------------------------------------------------------------------------------

const DATE_FORMATS = {
  date_num: { year: "numeric", month: "2-digit", day: "2-digit" },
  date: { year: "numeric", month: "long", day: "numeric" },
  date_short: { year: "numeric", month: "short", day: "numeric" },
  date_long: { weekday: "long", year: "numeric", month: "long", day: "numeric" },
  time: { hour: "2-digit", minute: "2-digit" },
  time_secs: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
};

function slackDate(seconds, format) {
  const when = new Date(seconds * 1000);
  const today = new Date();
  const sameDay = (a, b) => a.toDateString() === b.toDateString();
  return format.replace(/\{(\w+)\}/g, (whole, token) => {
    const pretty = token.endsWith("_pretty");
    const base = pretty ? token.slice(0, -7) : token;
    if (pretty) {
      if (sameDay(when, today)) return "Today";
      const yesterday = new Date(today.getTime() - 86400000);
      if (sameDay(when, yesterday)) return "Yesterday";
      const tomorrow = new Date(today.getTime() + 86400000);
      if (sameDay(when, tomorrow)) return "Tomorrow";
    }
    const options = DATE_FORMATS[base];
    return options ? when.toLocaleString(undefined, options) : whole;
  });
}

// The emoji the bot uses, as Slack draws them.
const EMOJI = {
  warning: "⚠️", white_check_mark: "✅", hourglass_flowing_sand: "⏳", hourglass: "⌛", x: "❌",
  no_entry_sign: "🚫", no_entry: "⛔", moneybag: "💰", grey_question: "❔", clock9: "🕘", alarm_clock: "⏰",
  studio_microphone: "🎙️", wastebasket: "🗑️", test_tube: "🧪", scissors: "✂️", rotating_light: "🚨",
  mag: "🔍", information_source: "ℹ️", heavy_multiplication_x: "✖️", telephone_receiver: "📞",
  scales: "⚖️", rocket: "🚀", red_circle: "🔴", page_facing_up: "📄", outbox_tray: "📤", inbox_tray: "📥",
  lock: "🔒", checkered_flag: "🏁", card_index: "📇", calendar: "📅", bell: "🔔", bar_chart: "📊",
  memo: "📝", tada: "🎉",
};

function emoji(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// Slack escapes &, < and > in text; an entity is <…>.
function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function entity(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    return `<span class="mention">@${escapeHtml(label || personName(target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="mention">#${escapeHtml(label || channelName(target.slice(1)))}</span>`;
  }
  if (target.startsWith("!subteam^")) {
    return `<span class="mention">@${escapeHtml(label || target.slice(9))}</span>`;
  }
  if (target.startsWith("!date^")) {
    const [, seconds, format] = target.split("^");
    const shown = Number(seconds) ? slackDate(Number(seconds), format || "{date_short} {time}") : label;
    return `<time datetime="${new Date(Number(seconds) * 1000).toISOString()}" title="${escapeHtml(label || "")}">${escapeHtml(shown || "")}</time>`;
  }
  if (target.startsWith("!")) {
    return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
  }
  const url = unescapeSlack(target);
  const safe = /^(https?:|mailto:)/i.test(url) ? url : "#";
  return `<a href="${escapeHtml(safe)}" target="_blank" rel="noopener">${escapeHtml(unescapeSlack(label || url))}</a>`;
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function mrkdwn(source) {
  const kept = [];
  const keep = (html) => `\u0000${kept.push(html) - 1}\u0000`;
  let text = String(source || "");
  text = text.replace(/```([\s\S]*?)```/g, (_, code) => keep(`<pre>${escapeHtml(unescapeSlack(code))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(unescapeSlack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, inner) => keep(entity(inner)));
  text = emoji(escapeHtml(unescapeSlack(text)));
  const edge = "(^|[\\s(\\u0000>])";
  const end = "(?=$|[\\s).,!?:;\\u0000<])";
  text = text.replace(new RegExp(`${edge}\\*([^*\\n]+)\\*${end}`, "g"), "$1<strong>$2</strong>");
  text = text.replace(new RegExp(`${edge}_([^_\\n]+)_${end}`, "g"), "$1<em>$2</em>");
  text = text.replace(new RegExp(`${edge}~([^~\\n]+)~${end}`, "g"), "$1<del>$2</del>");
  const lines = text.split("\n");
  const out = [];
  let quote = [];
  for (const line of lines) {
    if (line.startsWith("&gt;")) {
      quote.push(line.slice(4).replace(/^ /, ""));
      continue;
    }
    if (quote.length) {
      out.push(`<blockquote>${quote.join("<br>")}</blockquote>`);
      quote = [];
    }
    out.push(line + "<br>");
  }
  if (quote.length) out.push(`<blockquote>${quote.join("<br>")}</blockquote>`);
  let html = out.join("").replace(/<br>$/, "");
  html = html.replace(/\u0000(\d+)\u0000/g, (_, i) => kept[Number(i)]);
  return html;
}

function textObject(object, cls) {
  if (!object) return null;
  if (object.type === "mrkdwn") return el("div", { class: `mrkdwn ${cls || ""}`, html: mrkdwn(object.text) });
  return el("div", { class: cls || "", text: emoji(object.text || "") });
}

// -- Block Kit --------------------------------------------------------------------------------------

// `where`: what a click needs to say where it happened: {channel, message_ts} or {view_id}.
function renderBlocks(blocks, where) {
  return (blocks || []).map((block) => renderBlock(block, where)).filter(Boolean);
}

function renderBlock(block, where) {
  switch (block.type) {
    case "header":
      return el("div", { class: "block block-header", role: "heading", "aria-level": "3", text: emoji(block.text?.text || "") });
    case "section": {
      const body = el("div", { class: "section-body" }, textObject(block.text));
      if (block.fields?.length) body.append(el("div", { class: "fields" }, block.fields.map((f) => textObject(f))));
      const accessory = block.accessory ? renderElement(block.accessory, block, where) : null;
      return el("div", { class: "block section" }, body, accessory);
    }
    case "context":
      return el(
        "div",
        { class: "block context" },
        (block.elements || []).map((e) =>
          e.type === "image" ? el("img", { src: e.image_url, alt: e.alt_text || "" }) : textObject(e),
        ),
      );
    case "divider":
      return el("hr", { class: "divider" });
    case "actions":
      return el(
        "div",
        { class: "block actions", role: "group" },
        (block.elements || []).map((e) => renderElement(e, block, where)),
      );
    case "image":
      return el(
        "figure",
        { class: "block image-block" },
        block.title ? el("figcaption", { class: "image-title", text: block.title.text }) : null,
        el("img", { src: block.image_url, alt: block.alt_text || "" }),
      );
    case "input":
      return renderInput(block);
    default:
      return el("div", { class: "block meta", text: `(a ${block.type} block)` });
  }
}

function renderElement(element, block, where) {
  if (element.type === "button") {
    return el("button", {
      type: "button",
      class: `btn ${element.style || ""}`,
      "data-action": element.action_id,
      text: element.text?.text || "",
      onclick: () =>
        confirmThen(element.confirm, () =>
          act("/act/click", {
            ...where,
            action_id: element.action_id,
            value: element.value || "",
            block_id: block.block_id || "actions",
          }),
        ),
    });
  }
  if (element.type === "image") return el("img", { src: element.image_url, alt: element.alt_text || "", width: 64 });
  if (element.type === "static_select" || element.type === "overflow") {
    const select = el(
      "select",
      {
        "aria-label": element.placeholder?.text || "Choose",
        onchange: (event) =>
          act("/act/click", {
            ...where,
            action_id: element.action_id,
            selected: event.target.value,
            block_id: block.block_id || "actions",
          }),
      },
      el("option", { value: "", text: element.placeholder?.text || "Choose…" }),
      (element.options || []).map((o) => el("option", { value: o.value, text: o.text?.text || o.value })),
    );
    return select;
  }
  return el("span", { class: "meta", text: `(${element.type})` });
}

function confirmThen(confirm, action) {
  if (!confirm) {
    action();
    return;
  }
  const root = $("confirm-root");
  const previous = document.activeElement;
  const close = () => {
    root.replaceChildren();
    if (previous) previous.focus();
  };
  const yes = el("button", {
    type: "button",
    class: `btn ${confirm.style === "danger" ? "danger" : "primary"}`,
    text: confirm.confirm?.text || "Yes",
    onclick: () => {
      close();
      action();
    },
  });
  const box = el(
    "div",
    { class: "confirm", role: "alertdialog", "aria-modal": "true", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text" },
    el("h2", { id: "confirm-title", text: confirm.title?.text || "Are you sure?" }),
    el("div", { id: "confirm-text", class: "mrkdwn", html: confirm.text?.type === "mrkdwn" ? mrkdwn(confirm.text.text) : escapeHtml(confirm.text?.text || "") }),
    el(
      "div",
      { class: "confirm-foot" },
      el("button", { type: "button", class: "btn", text: confirm.deny?.text || "Cancel", onclick: close }),
      yes,
    ),
  );
  const overlay = el("div", { class: "overlay", onkeydown: (e) => e.key === "Escape" && close() }, box);
  root.replaceChildren(overlay);
  yes.focus();
}

async function act(path, body) {
  try {
    await post(path, body);
  } finally {
    await refresh();
  }
}

// -- modal inputs -------------------------------------------------------------------------------------

function optionOf(option) {
  return el("option", { value: option.value, text: option.text?.text || option.value });
}

function selectOptions(element) {
  if (element.option_groups) {
    return element.option_groups.map((group) =>
      el("optgroup", { label: group.label?.text || "" }, (group.options || []).map(optionOf)),
    );
  }
  return (element.options || []).map(optionOf);
}

function localDateTime(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function renderInput(block) {
  const element = block.element || {};
  const id = `in-${block.block_id}`;
  const label = block.label?.text || "";
  const optional = block.optional ? el("span", { class: "optional", text: " (optional)" }) : null;
  const hint = block.hint ? el("div", { class: "hint-text", id: `${id}-hint`, text: block.hint.text }) : null;
  const error = el("div", { class: "field-error", id: `${id}-error`, role: "alert" });
  const wrap = el("div", { class: "block input-block", "data-block": block.block_id, "data-type": element.type });
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  let control;
  switch (element.type) {
    case "plain_text_input":
    case "email_text_input":
    case "url_text_input":
    case "number_input": {
      const type = { email_text_input: "email", url_text_input: "url", number_input: "number" }[element.type] || "text";
      control = element.multiline
        ? el("textarea", { id, "aria-describedby": described, placeholder: element.placeholder?.text })
        : el("input", { id, type, "aria-describedby": described, placeholder: element.placeholder?.text });
      if (element.type === "number_input") {
        control.step = element.is_decimal_allowed ? "any" : "1";
        if (element.min_value !== undefined) control.min = element.min_value;
        if (element.max_value !== undefined) control.max = element.max_value;
      }
      control.value = element.initial_value || "";
      break;
    }
    case "static_select":
    case "multi_static_select": {
      const multiple = element.type === "multi_static_select";
      control = el("select", { id, "aria-describedby": described, multiple }, multiple ? null : el("option", { value: "", text: element.placeholder?.text || "Choose…" }), selectOptions(element));
      const initial = multiple ? (element.initial_options || []).map((o) => o.value) : [element.initial_option?.value];
      for (const option of control.querySelectorAll("option")) option.selected = initial.includes(option.value);
      break;
    }
    case "conversations_select":
    case "channels_select": {
      control = el("select", { id, "aria-describedby": described }, el("option", { value: "", text: element.placeholder?.text || "Choose a channel…" }),
        (ui.data?.channels || []).map((c) => el("option", { value: c.id, text: `#${c.name}` })));
      control.value = element.initial_conversation || element.initial_channel || "";
      break;
    }
    case "users_select":
    case "multi_users_select": {
      const multiple = element.type === "multi_users_select";
      control = el("select", { id, "aria-describedby": described, multiple }, multiple ? null : el("option", { value: "", text: "Choose a person…" }),
        (ui.data?.people || []).map((p) => el("option", { value: p.id, text: p.name })));
      const initial = multiple ? element.initial_users || [] : [element.initial_user];
      for (const option of control.querySelectorAll("option")) option.selected = initial.includes(option.value);
      break;
    }
    case "radio_buttons":
    case "checkboxes": {
      const kind = element.type === "radio_buttons" ? "radio" : "checkbox";
      const initial = kind === "radio" ? [element.initial_option?.value] : (element.initial_options || []).map((o) => o.value);
      control = el(
        "fieldset",
        { "aria-describedby": described },
        el("legend", {}, label, optional),
        (element.options || []).map((option, i) =>
          el(
            "label",
            { class: "choice" },
            el("input", { type: kind, name: id, value: option.value, id: `${id}-${i}`, checked: initial.includes(option.value) }),
            el("span", {}, textObject(option.text), option.description ? el("span", { class: "description", text: option.description.text }) : null),
          ),
        ),
      );
      wrap.append(...[control, hint, error].filter(Boolean));
      return wrap;
    }
    case "datetimepicker":
      control = el("input", { id, type: "datetime-local", "aria-describedby": described });
      if (element.initial_date_time) control.value = localDateTime(element.initial_date_time);
      break;
    case "datepicker":
      control = el("input", { id, type: "date", "aria-describedby": described, value: element.initial_date });
      break;
    case "timepicker":
      control = el("input", { id, type: "time", "aria-describedby": described, value: element.initial_time });
      break;
    case "file_input": {
      const accept = (element.filetypes || []).map((t) => `.${t}`).join(",");
      control = el("input", { id, type: "file", accept: accept || null, "aria-describedby": described, multiple: (element.max_files || 1) > 1 });
      control.files_uploaded = [];
      control.addEventListener("change", async () => {
        control.files_uploaded = [];
        for (const file of control.files) {
          const form = new FormData();
          form.append("file", file, file.name);
          const response = await fetch("/act/upload", { method: "POST", body: form });
          if (response.ok) control.files_uploaded.push(await response.json());
        }
        control.dataset.uploaded = String(control.files_uploaded.length);
      });
      break;
    }
    default:
      control = el("div", { class: "meta", id, text: `(${element.type})` });
  }
  wrap.append(...[el("label", { for: id }, label, optional), control, hint, error].filter(Boolean));
  return wrap;
}

// Inputs whose state is one chosen value, under the key Slack names it by.
const ONE_CHOICE = {
  conversations_select: "selected_conversation",
  channels_select: "selected_channel",
  users_select: "selected_user",
  datepicker: "selected_date",
  timepicker: "selected_time",
};

function stateValues(root) {
  const values = {};
  for (const wrap of root.querySelectorAll(".input-block")) {
    const block = ui.data.modal.blocks.find((b) => b.block_id === wrap.dataset.block);
    if (!block) continue;
    const element = block.element || {};
    const control = wrap.querySelector(`#in-${CSS.escape(block.block_id)}`);
    let state = { type: element.type };
    switch (element.type) {
      case "static_select":
        state.selected_option = control.value ? { value: control.value, text: { type: "plain_text", text: control.selectedOptions[0]?.textContent || "" } } : null;
        break;
      case "multi_static_select":
        state.selected_options = [...control.selectedOptions].map((o) => ({ value: o.value, text: { type: "plain_text", text: o.textContent } }));
        break;
      case "multi_users_select":
        state.selected_users = [...control.selectedOptions].map((o) => o.value);
        break;
      case "radio_buttons": {
        const picked = wrap.querySelector("input:checked");
        state.selected_option = picked ? { value: picked.value } : null;
        break;
      }
      case "checkboxes":
        state.selected_options = [...wrap.querySelectorAll("input:checked")].map((i) => ({ value: i.value }));
        break;
      case "datetimepicker":
        state.selected_date_time = control.value ? Math.floor(new Date(control.value).getTime() / 1000) : null;
        break;
      case "file_input":
        state.files = control.files_uploaded || [];
        break;
      default:
        if (ONE_CHOICE[element.type]) state[ONE_CHOICE[element.type]] = control.value || null;
        else state.value = control && "value" in control && control.value !== "" ? control.value : null;
    }
    values[block.block_id] = { [element.action_id]: state };
  }
  return values;
}

// -- the modal --------------------------------------------------------------------------------------

function renderModal() {
  const root = $("modal-root");
  const modal = ui.data.modal;
  if (!modal) {
    if (ui.modalKey) {
      root.replaceChildren();
      ui.modalKey = null;
      $("message").focus();
    }
    return;
  }
  const key = `${modal.id}:${modal.hash}`;
  if (key !== ui.modalKey) {
    ui.modalKey = key;
    const title = modal.title?.text || "";
    const body = el("div", { class: "modal-body" }, renderBlocks(modal.blocks, { view_id: modal.id }));
    const form = el(
      "form",
      {
        class: "modal",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "modal-title",
        onsubmit: async (event) => {
          event.preventDefault();
          const submit = form.querySelector("button[type=submit]");
          if (submit) submit.disabled = true;
          try {
            await post("/act/submit", { view_id: modal.id, values: stateValues(form) });
          } finally {
            if (submit) submit.disabled = false;
            await refresh();
          }
        },
        onkeydown: (event) => {
          if (event.key === "Escape") closeModal(modal.id);
        },
      },
      el("div", { class: "modal-head" }, el("h2", { id: "modal-title", text: title })),
      body,
      el(
        "div",
        { class: "modal-foot" },
        el("button", { type: "button", class: "btn", text: modal.close?.text || "Cancel", onclick: () => closeModal(modal.id) }),
        modal.submit ? el("button", { type: "submit", class: "btn primary", text: modal.submit.text }) : null,
      ),
    );
    root.replaceChildren(el("div", { class: "overlay" }, form));
    const first = form.querySelector("input, textarea, select");
    (first || form.querySelector("button")).focus();
  }
  for (const wrap of root.querySelectorAll(".input-block")) {
    const message = (modal.errors || {})[wrap.dataset.block] || "";
    if (message && !wrap.classList.contains("invalid")) wrap.scrollIntoView({ block: "center" });
    wrap.classList.toggle("invalid", Boolean(message));
    wrap.querySelector(".field-error").textContent = message;
    const control = wrap.querySelector("input, textarea, select");
    if (control) control.setAttribute("aria-invalid", message ? "true" : "false");
  }
}

async function closeModal(viewId) {
  await act("/act/close", { view_id: viewId });
}

// -- conversations ------------------------------------------------------------------------------------

function avatarOf(user) {
  const bot = user === "U0BOT";
  return el("div", { class: `avatar ${bot ? "bot" : ""}`, "aria-hidden": "true", text: bot ? "B" : personName(user)[0] });
}

function timeOf(ts) {
  const seconds = Number(String(ts || "").split(".")[0]);
  return seconds ? new Date(seconds * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
}

function renderItem(item, channel, { inThread }) {
  const ephemeral = !item.ts && !item.file;
  const user = item.user || "U0BOT";
  const head = el(
    "div",
    {},
    el("span", { class: "author", text: personName(user) }),
    user === "U0BOT" ? el("span", { class: "badge", text: "APP" }) : null,
    el("span", { class: "meta", text: timeOf(item.ts) }),
    item.edited ? el("span", { class: "meta", text: " (edited)" }) : null,
  );
  const body = el("div", { class: "content" }, head);
  if (ephemeral) body.append(el("span", { class: "only-you", text: "Only visible to you" }));
  if (item.file) {
    const f = item.file;
    if (item.text) body.append(el("div", { class: "mrkdwn", html: mrkdwn(item.text) }));
    body.append(
      el(
        "div",
        { class: "file-card" },
        el("span", { class: "file-kind", text: (f.type || "file").toUpperCase() }),
        el("a", { href: `/files/${f.id}`, target: "_blank", rel: "noopener", text: f.title || f.name }),
        el("a", { href: `/files/${f.id}?download=1`, download: f.name, "aria-label": `Download ${f.name}`, text: "Download" }),
        el("span", { class: "meta", text: `${(f.size / 1024).toFixed(1)} kB` }),
      ),
    );
  } else if (item.blocks && item.blocks.length) {
    body.append(...renderBlocks(item.blocks, { channel, message_ts: item.ts || null }));
  } else {
    body.append(el("div", { class: "mrkdwn", html: mrkdwn(item.text) }));
  }
  if (!inThread && item.replies && item.replies.length) {
    const count = item.replies.length;
    body.append(
      el("button", {
        type: "button",
        class: "replies-link",
        text: `${count} ${count === 1 ? "reply" : "replies"}`,
        onclick: () => {
          ui.thread = item.ts;
          render();
        },
      }),
    );
  }
  return el("article", { class: `message ${ephemeral ? "ephemeral" : ""}`, "data-ts": item.ts || "" }, avatarOf(user), body);
}

function stickToBottom(node, draw) {
  const atBottom = node.scrollHeight - node.scrollTop - node.clientHeight < 60;
  draw();
  if (atBottom) node.scrollTop = node.scrollHeight;
}

function render() {
  const data = ui.data;
  if (!data) return;
  const persona = $("persona");
  if (!persona.options.length) {
    for (const p of data.people) persona.append(el("option", { value: p.id, text: `${p.name} (${p.role})` }));
  }
  persona.value = ui.me;
  const nav = $("nav");
  const entries = [
    ...data.channels.map((c) => [c.id, `# ${c.name}`]),
    [data.dm, "bland (direct messages)"],
    ["home", "Home"],
  ];
  nav.replaceChildren(
    ...entries.map(([id, name]) =>
      el("li", {}, el("button", { type: "button", "aria-current": ui.where === id ? "page" : null, text: name, onclick: () => go(id) })),
    ),
  );
  const stream = $("stream");
  if (ui.where === "home") {
    $("title").textContent = "Home";
    stickToBottom(stream, () => {
      const home = data.home;
      stream.replaceChildren(
        home
          ? el("div", { class: "home" }, renderBlocks(home.blocks, { view_id: home.id }))
          : el("p", { class: "empty", text: "Opening the Home tab…" }),
      );
    });
  } else {
    $("title").textContent = ui.where.startsWith("D") ? "bland (direct messages)" : `# ${channelName(ui.where)}`;
    const items = data.conversations[ui.where] || [];
    stickToBottom(stream, () => {
      stream.replaceChildren(
        ...(items.length ? items.map((item) => renderItem(item, ui.where, { inThread: false })) : [el("p", { class: "empty", text: "No messages yet." })]),
      );
    });
  }
  const thread = $("thread");
  const parent = ui.thread && ui.where !== "home" ? (data.conversations[ui.where] || []).find((m) => m.ts === ui.thread) : null;
  thread.hidden = !parent;
  if (parent) {
    const replies = $("thread-stream");
    stickToBottom(replies, () => {
      replies.replaceChildren(
        renderItem({ ...parent, replies: [] }, ui.where, { inThread: true }),
        el("hr", { class: "divider" }),
        ...parent.replies.map((reply) => renderItem(reply, ui.where, { inThread: true })),
      );
    });
  }
  renderModal();
}

async function go(where) {
  ui.where = where;
  ui.thread = null;
  render();
  if (where === "home") await act("/act/home", {});
}

// -- wiring ---------------------------------------------------------------------------------------------

$("persona").addEventListener("change", async (event) => {
  ui.me = event.target.value;
  ui.modalKey = null;
  $("modal-root").replaceChildren();
  await refresh();
  if (ui.where.startsWith("D")) ui.where = ui.data.dm;
  if (ui.where === "home") await act("/act/home", {});
  render();
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = $("message");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  const channel = ui.where === "home" ? "C0OPS" : ui.where;
  await act("/act/command", { channel, text });
});

$("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("close-thread").addEventListener("click", () => {
  ui.thread = null;
  render();
});

const events = new EventSource("/events");
events.addEventListener("changed", () => refresh());
refresh();
