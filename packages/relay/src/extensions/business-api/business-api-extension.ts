/**
 * The business API as a relay extension: serves `/v1/apps/<app>/…` (business-api.ts) and keeps its
 * conversation list current with every loaded room (business-index.ts, business-summaries.ts).
 */
import type { RelayExtension } from "../../core/extension.js";
import type { WebhooksExtension } from "../webhooks/webhooks.js";
import { BusinessApi } from "./business-api.js";
import { AppAuthenticator } from "./business-auth.js";

/** Options of {@link businessApi}. */
export interface BusinessApiOptions {
  /** Where history imports are reported (`conversation.imported`). Default: no events. */
  webhooks?: WebhooksExtension;
}

/** Creates the business API extension. */
export function businessApi(options: BusinessApiOptions = {}): RelayExtension {
  let api: BusinessApi | undefined;
  return {
    name: "business-api",
    onStart({ config, storage, logger, rooms, keys }) {
      api = new BusinessApi({
        rooms,
        storage,
        auth: new AppAuthenticator(keys),
        appIds: new Set(config.apps.map((app) => app.id)),
        webhooks: options.webhooks,
        logger,
      });
    },
    onRoomLoaded(room) {
      api?.watch(room);
    },
    onStored({ room }) {
      api?.stored(room);
    },
    onRoomUnloaded(room) {
      api?.unloaded(room);
    },
    async onRequest(request, response) {
      const path = (request.url ?? "").split("?")[0] ?? "";
      if (api === undefined || !BusinessApi.matches(path)) return false;
      await api.handle(request, response);
      return true;
    },
    async onStop() {
      await api?.close();
    },
  };
}
