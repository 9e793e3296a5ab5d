/** The profile form: shows the synced profile and turns edits into a profile patch. */
import type { Profile } from "@parley/client";

const FIELDS = ["givenName", "surname", "email"] as const;
type Field = (typeof FIELDS)[number];

function input(form: HTMLFormElement, field: Field): HTMLInputElement {
  return form.elements.namedItem(field) as HTMLInputElement;
}

/**
 * Shows `profile` in the form. A field the user has edited but not saved keeps the edit, unless `reset`
 * (another identity: its profile replaces everything).
 */
export function fillProfileForm(form: HTMLFormElement, profile: Profile, reset = false): void {
  for (const field of FIELDS) {
    const element = input(form, field);
    const edited = element.value !== (element.dataset.shown ?? "");
    const value = profile[field] ?? "";
    if (reset || !edited) element.value = value;
    element.dataset.shown = value;
  }
}

/** The changes in the form against `profile`: an emptied field clears its value. */
export function readProfilePatch(form: HTMLFormElement, profile: Profile): Partial<Record<Field, string | null>> {
  const patch: Partial<Record<Field, string | null>> = {};
  for (const field of FIELDS) {
    const value = input(form, field).value.trim();
    if (value !== (profile[field] ?? "")) patch[field] = value === "" ? null : value;
  }
  return patch;
}
