/**
 * Inline title fields of the outline (rename, new child) and focusing a field from
 * a command.
 */

/** How long after a title field opens a blur not caused by the user counts as taken. */
const FOCUS_GRACE_MS = 500;

/** When the user last clicked or pressed Tab anywhere (what moves the focus on purpose). */
let lastUserMove = 0;
document.addEventListener('pointerdown', () => (lastUserMove = performance.now()), true);
document.addEventListener(
  'keydown',
  event => {
    if (event.key === 'Tab') {
      lastUserMove = performance.now();
    }
  },
  true
);

/**
 * An inline title field: Enter finishes, Escape cancels, and a blur finishes, except
 * right after it opened when the user did not move the focus (no click, no Tab):
 * a closing context menu or palette gives
 * the focus back to where it was, or a re-render takes it, and the field would
 * close at once. The field takes the focus back instead; a click elsewhere, or
 * Tab, finishes the edit as always.
 */
export function bindTitleField(
  input: HTMLInputElement,
  stillEditing: () => boolean,
  finish: (commit: boolean) => void
): void {
  // Enter keeps the title, Escape drops it; keys stay out of the outline's handlers.
  input.addEventListener('keydown', event => {
    event.stopPropagation();
    if (event.key === 'Enter' || event.key === 'Escape') {
      event.preventDefault();
      finish(event.key === 'Enter');
    }
  });
  const opened = performance.now();
  input.addEventListener('blur', () => {
    const now = performance.now();
    const taken = now - opened < FOCUS_GRACE_MS && lastUserMove < opened;
    if (taken && stillEditing()) {
      window.setTimeout(() => {
        if (stillEditing()) {
          if (input.isConnected) {
            input.focus();
          } else {
            finish(true); // the field is gone: end the edit rather than leave it open
          }
        }
      }, 0);
      return;
    }
    finish(true);
  });
}

/**
 * Focus `input` now and once more after the current task: a command run from the
 * palette or a menu gives the focus back to where it was when that closes, after
 * the command ran, which would take it from the field the command focused.
 */
export function focusAfterCommand(input: HTMLInputElement): void {
  input.focus();
  window.setTimeout(() => {
    if (document.activeElement !== input && input.isConnected) {
      input.focus();
    }
  }, 0);
}
