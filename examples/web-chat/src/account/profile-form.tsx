/** The name and email the agent sees: the synced profile, edited and saved through the client. */
import { useParley, useProfile } from "@parley/react";
import { type FormEvent, useEffect, useState } from "react";

export function ProfileForm() {
  const client = useParley();
  const profile = useProfile();
  const [givenName, setGivenName] = useState(profile.givenName ?? "");
  const [email, setEmail] = useState(profile.email ?? "");
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setGivenName(profile.givenName ?? "");
    setEmail(profile.email ?? "");
  }, [profile.givenName, profile.email]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const patch: { givenName?: string | null; email?: string | null } = {};
    if (givenName.trim() !== (profile.givenName ?? "")) patch.givenName = givenName.trim() || null;
    if (email.trim() !== (profile.email ?? "")) patch.email = email.trim() || null;
    await client?.setProfile(patch);
    setSaved(true);
  };
  return (
    <form className="profile" data-testid="profile-form" autoComplete="off" onSubmit={save}>
      <label>
        Name
        <input
          data-testid="profile-given-name"
          value={givenName}
          maxLength={1024}
          onChange={(event) => {
            setGivenName(event.target.value);
            setSaved(false);
          }}
        />
      </label>
      <label>
        Email
        <input
          type="email"
          data-testid="profile-email"
          value={email}
          maxLength={1024}
          onChange={(event) => {
            setEmail(event.target.value);
            setSaved(false);
          }}
        />
      </label>
      <button type="submit" className="secondary" data-testid="profile-save">
        {saved ? "Saved" : "Save"}
      </button>
    </form>
  );
}
