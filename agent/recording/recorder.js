// Injected into every document of a recording browser (context.add_init_script). It watches
// what the person does and reports each action, with target candidates computed here, in the
// page, through the binding the recorder exposes. Python turns the reports into flow steps.
(() => {
  if (window.__sellerAgentRecorder) return;
  window.__sellerAgentRecorder = true;

  const BINDING = "__sellerAgentRecord";
  const NAV_FLAG = "sellerAgentRecorder.expectNavigation";
  const STOP_HOST_ID = "seller-agent-recorder";
  const isTop = window === window.top;
  let sequence = 0;
  let lastActionAt = 0;
  let lastEnterAt = 0;
  const keys = new WeakMap();
  let nextKey = 1;

  function send(event) {
    event.seq = ++sequence;
    event.url = location.href;
    event.inFrame = !isTop;
    try {
      const binding = window[BINDING];
      if (binding) binding(event);
    } catch (error) {
      // The page may be unloading; losing a report is better than breaking the page.
    }
  }

  function markNavigationExpected() {
    lastActionAt = Date.now();
    try {
      sessionStorage.setItem(NAV_FLAG, String(Date.now()));
    } catch (error) {
      // Storage can be disabled (sandboxed frames); the recorder then writes an extra goto.
    }
  }

  function elementKey(element) {
    if (!keys.has(element)) keys.set(element, nextKey++);
    return `${location.pathname}#${keys.get(element)}`;
  }

  // -- what an element is -------------------------------------------------------------------

  const normalize = (text) => (text || "").replace(/\s+/g, " ").trim();

  function isVisible(element) {
    if (!element.isConnected) return false;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") return false;
    return element.getClientRects().length > 0;
  }

  const TEXT_INPUT_TYPES = new Set(["", "text", "email", "tel", "url", "search", "password", "number"]);

  function inputType(element) {
    return (element.getAttribute("type") || "").toLowerCase();
  }

  function isTextEntry(element) {
    if (element.isContentEditable) return true;
    const tag = element.tagName;
    if (tag === "TEXTAREA") return true;
    return tag === "INPUT" && TEXT_INPUT_TYPES.has(inputType(element));
  }

  function roleOf(element) {
    const explicit = (element.getAttribute("role") || "").trim().split(/\s+/)[0];
    if (explicit) return explicit;
    const tag = element.tagName;
    switch (tag) {
      case "A":
      case "AREA":
        return element.hasAttribute("href") ? "link" : null;
      case "BUTTON":
        return "button";
      case "SELECT":
        return element.multiple || element.size > 1 ? "listbox" : "combobox";
      case "TEXTAREA":
        return "textbox";
      case "OPTION":
        return "option";
      case "SUMMARY":
        return "button";
      case "H1":
      case "H2":
      case "H3":
      case "H4":
      case "H5":
      case "H6":
        return "heading";
      case "IMG":
        return element.getAttribute("alt") === "" ? "presentation" : "img";
      case "INPUT": {
        const type = inputType(element);
        if (["button", "submit", "reset", "image"].includes(type)) return "button";
        if (type === "checkbox") return "checkbox";
        if (type === "radio") return "radio";
        if (type === "range") return "slider";
        if (type === "number") return "spinbutton";
        if (type === "password" || type === "hidden" || type === "file") return null;
        if (element.hasAttribute("list")) return "combobox";
        if (type === "search") return "searchbox";
        return "textbox";
      }
      default:
        return null;
    }
  }

  function textOf(element) {
    // innerText follows what is rendered, like an accessible name computed from content.
    let text = normalize(element.innerText || element.textContent);
    if (!text) {
      const image = element.querySelector("img[alt]");
      if (image) text = normalize(image.getAttribute("alt"));
    }
    return text;
  }

  function labelTexts(element) {
    const texts = [];
    const labelledBy = element.getAttribute("aria-labelledby");
    if (labelledBy) {
      const text = labelledBy
        .split(/\s+/)
        .map((id) => document.getElementById(id))
        .filter(Boolean)
        .map((node) => textOf(node))
        .join(" ");
      if (normalize(text)) texts.push(normalize(text));
    }
    const ariaLabel = normalize(element.getAttribute("aria-label"));
    if (ariaLabel) texts.push(ariaLabel);
    if (element.labels) {
      for (const label of element.labels) {
        const clone = label.cloneNode(true);
        clone.querySelectorAll("input, select, textarea, button").forEach((node) => node.remove());
        const text = normalize(clone.textContent);
        if (text) texts.push(text);
      }
    }
    return texts;
  }

  function accessibleName(element, role) {
    const labels = labelTexts(element);
    if (labels.length) return labels[0];
    const tag = element.tagName;
    if (tag === "INPUT") {
      const type = inputType(element);
      if (type === "submit") return normalize(element.value) || "Submit";
      if (type === "reset") return normalize(element.value) || "Reset";
      if (type === "button") return normalize(element.value);
      if (type === "image") return normalize(element.getAttribute("alt"));
    }
    const fromContent = ["button", "link", "tab", "menuitem", "option", "heading", "checkbox",
      "radio", "switch", "cell", "columnheader", "treeitem", "menuitemcheckbox", "menuitemradio"];
    if (fromContent.includes(role)) {
      const text = textOf(element);
      if (text) return text;
    }
    const title = normalize(element.getAttribute("title"));
    if (title) return title;
    return normalize(element.getAttribute("placeholder"));
  }

  // -- candidates -----------------------------------------------------------------------------

  const lower = (text) => text.toLowerCase();

  function allElements() {
    return Array.from(document.querySelectorAll("body *")).filter(
      (element) => !element.closest(`#${STOP_HOST_ID}`)
    );
  }

  // How many visible elements Playwright's get_by_role(role, name=...) would match, with a
  // substring match (its default) and with exact=True.
  function roleMatches(role, name, elements) {
    let loose = 0;
    let exact = 0;
    const wanted = lower(name);
    for (const element of elements) {
      if (roleOf(element) !== role || !isVisible(element)) continue;
      const other = accessibleName(element, role);
      if (lower(other).includes(wanted)) loose++;
      if (other === name) exact++;
    }
    return { loose, exact };
  }

  function labelMatches(text, elements) {
    let loose = 0;
    let exact = 0;
    const wanted = lower(text);
    for (const element of elements) {
      if (!["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName) && !element.getAttribute("aria-label")) continue;
      for (const label of labelTexts(element)) {
        if (lower(label).includes(wanted)) {
          loose++;
          if (label === text) exact++;
          break;
        }
      }
    }
    return { loose, exact };
  }

  function textMatches(text, elements) {
    // get_by_text matches the innermost elements whose text contains the string.
    const wanted = lower(text);
    let count = 0;
    for (const element of elements) {
      if (!isVisible(element)) continue;
      if (!lower(normalize(element.textContent)).includes(wanted)) continue;
      const child = Array.from(element.children).some((node) =>
        lower(normalize(node.textContent)).includes(wanted)
      );
      if (!child) count++;
    }
    return count;
  }

  function cssString(value) {
    return `"${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  }

  function unique(selector, root = document) {
    try {
      return root.querySelectorAll(selector).length === 1;
    } catch (error) {
      return false;
    }
  }

  const looksGenerated = (text) => /\d{3,}|[a-f0-9]{8,}|^[_:]|--|__/i.test(text);

  function shortCss(element) {
    const tag = element.tagName.toLowerCase();
    if (element.id && !looksGenerated(element.id) && unique(`#${CSS.escape(element.id)}`)) {
      return { css: `#${CSS.escape(element.id)}`, nthChain: false };
    }
    const name = element.getAttribute("name");
    if (name && unique(`${tag}[name=${cssString(name)}]`)) {
      return { css: `${tag}[name=${cssString(name)}]`, nthChain: false };
    }
    // Up to four levels of tag.class, with :nth-of-type only where nothing else tells apart.
    const parts = [];
    let node = element;
    let usedNth = false;
    for (let depth = 0; node && node.nodeType === 1 && depth < 4; depth++) {
      const nodeTag = node.tagName.toLowerCase();
      if (nodeTag === "body" || nodeTag === "html") break;
      if (node !== element && node.id && !looksGenerated(node.id)) {
        parts.unshift(`#${CSS.escape(node.id)}`);
        if (unique(parts.join(" > "))) return { css: parts.join(" > "), nthChain: usedNth };
        parts.shift();
      }
      const classes = Array.from(node.classList)
        .filter((name) => !looksGenerated(name))
        .slice(0, 2)
        .map((name) => `.${CSS.escape(name)}`)
        .join("");
      let part = nodeTag + classes;
      const parent = node.parentElement;
      if (parent) {
        const same = Array.from(parent.children).filter((child) => child.matches(part));
        if (same.length > 1) {
          const index = Array.from(parent.children)
            .filter((child) => child.tagName === node.tagName)
            .indexOf(node);
          part += `:nth-of-type(${index + 1})`;
          usedNth = true;
        }
      }
      parts.unshift(part);
      if (unique(parts.join(" > "))) return { css: parts.join(" > "), nthChain: usedNth };
      node = parent;
    }
    return null;
  }

  // The nearest ancestor that a unique attribute names (a table row's data-order-id...), for
  // scoping a role or test id that repeats on the page (a "Cancel order" button per row).
  function scopeFor(element) {
    for (let node = element.parentElement; node && node !== document.body; node = node.parentElement) {
      const tag = node.tagName.toLowerCase();
      for (const attribute of Array.from(node.attributes)) {
        if (!attribute.name.startsWith("data-") || attribute.name === "data-testid" || !attribute.value) continue;
        const selector = `${tag}[${attribute.name}=${cssString(attribute.value)}]`;
        if (unique(selector)) return selector;
      }
      if (node.id && !looksGenerated(node.id) && unique(`#${CSS.escape(node.id)}`)) {
        return `#${CSS.escape(node.id)}`;
      }
    }
    return null;
  }

  function candidatesFor(element) {
    const elements = allElements();
    const candidates = [];
    const role = roleOf(element);
    const name = role ? accessibleName(element, role) : "";
    let roleRepeats = false;
    if (role && name && name.length <= 80) {
      const { loose, exact } = roleMatches(role, name, elements);
      if (loose === 1) candidates.push({ role, name });
      else if (exact === 1) candidates.push({ role, name, exact: true });
      else roleRepeats = true;
    }
    if (["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName)) {
      const label = labelTexts(element)[0];
      if (label && label.length <= 80) {
        const { loose, exact } = labelMatches(label, elements);
        if (loose === 1) candidates.push({ label });
        else if (exact === 1) candidates.push({ label, exact: true });
      }
    }
    const testid = element.getAttribute("data-testid");
    if (testid && unique(`[data-testid=${cssString(testid)}]`)) candidates.push({ testid });
    const placeholder = element.getAttribute("placeholder");
    if (placeholder && unique(`[placeholder=${cssString(placeholder)}]`)) {
      candidates.push({ placeholder });
    }
    if (!["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName)) {
      const text = textOf(element);
      if (text && text.length <= 50 && textMatches(text, elements) === 1) candidates.push({ text });
    }
    if (!candidates.length || roleRepeats) {
      const scope = scopeFor(element);
      if (scope && role && name && roleRepeats) {
        candidates.unshift(`css=${scope} >> role=${role}[name=${JSON.stringify(name)}]`);
      }
      if (scope && testid && unique(`${scope} [data-testid=${cssString(testid)}]`)) {
        candidates.push({ css: `${scope} [data-testid=${cssString(testid)}]` });
      }
    }
    if (candidates.length < 2) {
      const css = shortCss(element);
      // A bare :nth-of-type chain breaks as soon as the page changes: only when nothing else.
      if (css && (!css.nthChain || !candidates.length)) candidates.push({ css: css.css });
    }
    return candidates.slice(0, 3);
  }

  const ACTIONABLE =
    "a[href], button, input, select, textarea, summary, label, option, [role=button], [role=link], " +
    "[role=checkbox], [role=radio], [role=tab], [role=menuitem], [role=option], [role=switch], " +
    "[contenteditable=''], [contenteditable=true], [onclick], [tabindex]";

  function actionable(node) {
    const element = node && node.nodeType === 1 ? node : node && node.parentElement;
    if (!element) return null;
    return element.closest(ACTIONABLE) || element;
  }

  function fromRecorder(event) {
    return event.composedPath().some((node) => node && node.id === STOP_HOST_ID);
  }

  function describe(element) {
    return {
      key: elementKey(element),
      tag: element.tagName.toLowerCase(),
      type: inputType(element),
      password: element.tagName === "INPUT" && inputType(element) === "password",
      candidates: candidatesFor(element),
    };
  }

  function modifiersOf(event) {
    const modifiers = [];
    if (event.altKey) modifiers.push("Alt");
    if (event.ctrlKey) modifiers.push("Control");
    if (event.metaKey) modifiers.push("Meta");
    if (event.shiftKey) modifiers.push("Shift");
    return modifiers;
  }

  function isToggle(element) {
    return element.tagName === "INPUT" && ["checkbox", "radio"].includes(inputType(element));
  }

  // -- listeners (capture phase, so a page that stops propagation is still heard) ------------

  document.addEventListener(
    "click",
    (event) => {
      if (fromRecorder(event)) return;
      const element = actionable(event.target);
      if (!element) return;
      const tag = element.tagName;
      // Selects, toggles and text fields are recorded by what changes, not by the click.
      if (tag === "SELECT" || tag === "OPTION" || isToggle(element) || isTextEntry(element)) return;
      if (tag === "LABEL" && element.control) return;
      // Enter in a form field "clicks" the form's default button (detail 0): the Enter is
      // already recorded and does the same on replay.
      if (event.detail === 0 && Date.now() - lastEnterAt < 1000) return;
      markNavigationExpected();
      send({
        type: "click",
        count: event.detail > 1 ? event.detail : 1,
        modifiers: modifiersOf(event),
        target: describe(element),
      });
    },
    true
  );

  document.addEventListener(
    "contextmenu",
    (event) => {
      if (fromRecorder(event)) return;
      const element = actionable(event.target);
      if (element) send({ type: "click", button: "right", modifiers: modifiersOf(event), target: describe(element) });
    },
    true
  );

  document.addEventListener(
    "input",
    (event) => {
      const element = event.target;
      if (!element || element.nodeType !== 1 || !isTextEntry(element)) return;
      const password = element.tagName === "INPUT" && inputType(element) === "password";
      // A password never leaves the page: the recorder writes {{ password }} instead.
      const value = password ? null : element.isContentEditable ? element.innerText : element.value;
      send({ type: "fill", value, target: describe(element) });
    },
    true
  );

  document.addEventListener(
    "change",
    (event) => {
      const element = event.target;
      if (!element || element.nodeType !== 1) return;
      if (element.tagName === "SELECT") {
        const values = Array.from(element.selectedOptions).map((option) => option.value);
        send({ type: "select", value: element.multiple ? values : values[0] || "", target: describe(element) });
      } else if (isToggle(element)) {
        send({ type: element.checked ? "check" : "uncheck", target: describe(element) });
      } else if (isTextEntry(element)) {
        const password = inputType(element) === "password";
        send({ type: "fill", value: password ? null : element.value, target: describe(element) });
      }
    },
    true
  );

  const BUTTON_LIKE =
    "button, a[href], summary, input[type=submit], input[type=button], input[type=reset], " +
    "input[type=image], [role=button], [role=link]";
  const SPECIAL_KEYS = new Set(["Enter", "Escape", "ArrowUp", "ArrowDown", "PageUp", "PageDown", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12"]);

  document.addEventListener(
    "keydown",
    (event) => {
      if (fromRecorder(event)) return;
      const modifiers = modifiersOf(event).filter((key) => key !== "Shift");
      const shortcut = modifiers.length > 0 && !["Control", "Alt", "Meta", "Shift"].includes(event.key);
      if (!SPECIAL_KEYS.has(event.key) && !shortcut) return;
      const element = event.target && event.target.nodeType === 1 ? event.target : null;
      if (event.key === "Enter" && element && element.tagName === "TEXTAREA" && !shortcut) return;
      // Enter on a button or link clicks it, and the click is recorded.
      if (event.key === "Enter" && element && !shortcut && element.closest(BUTTON_LIKE)) return;
      if (event.key === "Enter") {
        lastEnterAt = Date.now();
        markNavigationExpected();
      }
      const key = [...modifiersOf(event), event.key.length === 1 ? event.key.toUpperCase() : event.key].join("+");
      const focused = element && element !== document.body && element !== document.documentElement;
      send({ type: "press", key, target: focused ? describe(element) : null });
    },
    true
  );

  document.addEventListener(
    "submit",
    (event) => {
      // A click on a submit button or Enter in a field was already recorded, and does this.
      if (Date.now() - lastActionAt < 1500) return;
      markNavigationExpected();
      const form = event.target;
      const submitter = event.submitter || form.querySelector("[type=submit], button:not([type])");
      if (submitter) send({ type: "click", count: 1, modifiers: [], target: describe(submitter) });
    },
    true
  );

  // -- the page itself and the stop button -------------------------------------------------------

  function pageReport() {
    let caused = false;
    try {
      const flagged = Number(sessionStorage.getItem(NAV_FLAG) || 0);
      caused = flagged > 0 && Date.now() - flagged < 15000;
      sessionStorage.removeItem(NAV_FLAG);
    } catch (error) {
      caused = false;
    }
    const navigation = performance.getEntriesByType("navigation")[0];
    send({ type: "page", caused, navigation: navigation ? navigation.type : "navigate", title: document.title });
  }

  function addStopButton() {
    if (document.getElementById(STOP_HOST_ID) || !document.body) return;
    const host = document.createElement("div");
    host.id = STOP_HOST_ID;
    host.style.cssText = "position:fixed;right:12px;bottom:12px;z-index:2147483647;";
    const root = host.attachShadow({ mode: "open" });
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "\u25A0 Stop recording";
    button.title = "seller-agent: stop recording and write the flow file";
    button.style.cssText =
      "font:600 13px system-ui,sans-serif;padding:8px 12px;border:0;border-radius:6px;" +
      "background:#b12704;color:#fff;box-shadow:0 2px 6px rgba(0,0,0,.3);cursor:pointer;";
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      event.preventDefault();
      button.textContent = "Recording stopped";
      button.disabled = true;
      send({ type: "stop" });
    });
    root.appendChild(button);
    document.body.appendChild(host);
  }

  function onReady() {
    if (!isTop) return;
    pageReport();
    addStopButton();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady, { once: true });
  } else {
    onReady();
  }
})();
