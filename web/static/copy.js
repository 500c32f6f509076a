// Copy buttons: `<button data-copy="some-id" hidden>` copies the text of the element with that id.
// The buttons stay hidden unless this script runs in a browser with the clipboard API; without it
// the text is still on the page to select and copy by hand.
(() => {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const target = document.getElementById(button.getAttribute("data-copy") || "");
    if (!target) continue;
    const label = button.textContent;
    let timer;
    const say = (text) => {
      button.textContent = text;
      clearTimeout(timer);
      timer = setTimeout(() => (button.textContent = label), 2000);
    };
    button.hidden = false;
    button.addEventListener("click", () => {
      const text = "value" in target ? target.value : target.textContent;
      navigator.clipboard.writeText(text || "").then(
        () => say("Copied"),
        () => say("Copy failed: select the text and copy it"),
      );
    });
  }
})();
