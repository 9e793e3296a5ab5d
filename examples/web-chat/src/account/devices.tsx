/**
 * The devices the user's conversation is on, as the relay recorded them. Two browsers of the same kind
 * look alike by name, so each row also says which one is this device, whether it is still signed in,
 * when it was first and last seen, and a short id.
 */
import type { ClientRecord } from "@parley/client";
import { useClients, useIdentity, useParley } from "@parley/react";
import { describeAgent, relativeTime, shortTime } from "./agent-names.js";

export function Devices() {
  const client = useParley();
  const clients = useClients();
  // The client id is known once the client is ready, as the identity is.
  const own = useIdentity() === undefined ? "" : (client?.clientId ?? "");
  const sorted = [...clients].sort((a, b) => (a.id === own ? -1 : b.id === own ? 1 : b.lastSeen - a.lastSeen));
  return (
    <section className="devices" aria-label="Your devices">
      <h3>Devices in this conversation</h3>
      <ul className="clients" data-testid="clients" data-own={own}>
        {sorted.length === 0 ? (
          <li className="detail">This device appears here once it has reached the server.</li>
        ) : (
          sorted.map((record) => <DeviceRow key={record.id} record={record} thisDevice={record.id === own} />)
        )}
      </ul>
    </section>
  );
}

function DeviceRow({ record, thisDevice }: { record: ClientRecord; thisDevice: boolean }) {
  return (
    <li
      data-testid="client"
      data-id={record.id}
      data-active={String(record.active)}
      data-this-device={String(thisDevice)}
    >
      <span className="device-icon" aria-hidden="true">
        {record.platform === "node" ? "⌨" : "▭"}
      </span>
      <span className="name">
        {describeAgent(record)}
        <span className="device-id" title={record.id}>
          #{record.id.slice(0, 4)}
        </span>
      </span>
      <span className={thisDevice ? "badge this" : record.active ? "badge active" : "badge"}>
        {thisDevice ? "This device" : record.active ? "Signed in" : "Signed out"}
      </span>
      <span className="detail">
        {thisDevice ? "active now" : `last seen ${relativeTime(record.lastSeen)}`} · first seen{" "}
        {shortTime(record.firstSeen)}
      </span>
    </li>
  );
}
