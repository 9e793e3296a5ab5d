/** The profile form: shows the synced profile and turns edits into a profile patch. */
import type { Profile } from "@parley/client";

const FIELDS = ["givenName", "surname", "email"] as const;
type Field = (typeof FIELDS)[number];

/** Shows `profile` in the form, leaving alone the field being edited. */
export function fillProfileForm(form: HTMLFormElement, profile: Profile): void {
  for (const field of FIELDS) {
    const input = form.elements.namedItem(field) as HTMLInputElement;
    if (document.activeElement !== input) input.value = profile[field] ?? "";
  }
}

/** The changes in the form against `profile`: an emptied field clears its value. */
export function readProfilePatch(form: HTMLFormElement, profile: Profile): Partial<Record<Field, string | null>> {
  const patch: Partial<Record<Field, string | null>> = {};
  for (const field of FIELDS) {
    const value = (form.elements.namedItem(field) as HTMLInputElement).value.trim();
    if (value !== (profile[field] ?? "")) patch[field] = value === "" ? null : value;
  }
  return patch;
}
