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

// The door: read it every second while the locker waits for a phone. Once a form of the page
// is sent (Done, Cancel) the page is on its way out: a reload then would cancel that navigation
// and the resident would never see the code the Done made.
const door = document.getElementById("door");
let leaving = false;
document.addEventListener("submit", () => { leaving = true; });
window.addEventListener("pagehide", () => { leaving = true; });
if (door && door.dataset.url) {
  const read = async () => {
    if (leaving) return;
    try {
      const answer = await fetch(door.dataset.url, {cache: "no-store"});
      if (leaving) return;
      if (answer.ok) {
        const state = await answer.json();
        if (leaving) return;
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

// The code's screen: asked after a minute untouched, hidden 30 seconds later if nobody answers,
// so that the next person at the kiosk never finds it.
const stillThere = document.getElementById("still-there");
if (stillThere) {
  const afterMs = Number(stillThere.dataset.afterS) * 1000;
  const graceMs = Number(stillThere.dataset.graceS) * 1000;
  let timer = null;
  const leave = () => { window.location.replace(stillThere.dataset.leave); };
  const ask = () => {
    stillThere.hidden = false;
    stillThere.querySelector("[data-keep]").focus();
    timer = window.setTimeout(leave, graceMs);
  };
  const wait = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, afterMs);
  };
  stillThere.querySelector("[data-keep]").addEventListener("click", () => {
    stillThere.hidden = true;
    wait();
  });
  document.addEventListener("pointerdown", (event) => {
    if (stillThere.hidden) wait();
  });
  wait();
}
