// The kiosk page's one script, and the page works without it (web.py): it saves a round trip
// per digit of the keypad, and says when the door of a locker being filled is shut.
"use strict";

// The keypad: a digit goes into the code's field instead of bringing the page back.
document.addEventListener("click", (event) => {
  const key = event.target.closest("button[data-key]");
  const field = document.getElementById("code");
  if (!key || !field) return;
  event.preventDefault();
  const digits = field.value.replace(/\D/g, "");
  field.value = key.dataset.key === "erase" ? digits.slice(0, -1) : (digits + key.dataset.key).slice(0, 6);
});

// The door: read it every second while the locker waits for a phone.
const door = document.getElementById("door");
if (door && door.dataset.url) {
  const read = async () => {
    try {
      const answer = await fetch(door.dataset.url, {cache: "no-store"});
      if (answer.ok) {
        const state = await answer.json();
        if (!state.waiting) {
          window.location.reload(); // the step is over (the bank freed it): the page says where to go
          return;
        }
        const closed = state.door === "closed";
        const text = closed ? door.dataset.closed : door.dataset.open;
        if (door.textContent !== text) door.textContent = text;
        door.classList.toggle("closed", closed);
      }
    } catch (error) {
      // the agent restarting: try again at the next tick
    }
    window.setTimeout(read, 1000);
  };
  window.setTimeout(read, 1000);
}
