/**
 * The shop page with the support widget. The page asks the app backend where the relay is, then mounts
 * the React tree; the Parley client is created by the provider in an effect and destroyed with it.
 */
import { createClient } from "@parley/client";
import { ParleyProvider } from "@parley/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { AccountCard } from "./account/account-card.js";
import { fetchConfig, fetchUserToken } from "./backend-api.js";
import { Widget } from "./widget/widget.js";
import "./styles.css";

const root = createRoot(document.getElementById("root") as HTMLElement);

function ShopPage({ children }: { children: React.ReactNode }) {
  return (
    <div className="shop">
      <header className="shop-bar">
        <span className="shop-logo" aria-hidden="true" />
        <strong>Acme Outdoor</strong>
        <nav className="shop-nav" aria-label="Shop">
          <span>Tents</span>
          <span>Backpacks</span>
          <span>Help</span>
        </nav>
      </header>
      <main className="shop-main">
        <section className="shop-hero">
          <h1>Orders, returns and questions</h1>
          <p>
            Ask us anything in the chat at the bottom right. Start as a guest; sign in and your conversation follows you
            to every device.
          </p>
        </section>
        {children}
      </main>
    </div>
  );
}

fetchConfig().then(
  (config) => {
    root.render(
      <StrictMode>
        <ParleyProvider
          create={() =>
            createClient({
              appId: config.appId,
              relayUrl: config.relayUrl,
              clientInfo: { platform: "web", appVersion: "0.1.0" },
              onTokenExpired: (userId) => fetchUserToken(userId),
            })
          }
        >
          <ShopPage>
            <AccountCard />
          </ShopPage>
          <Widget />
        </ParleyProvider>
      </StrictMode>,
    );
  },
  (error: unknown) => {
    root.render(
      <p className="fatal" data-testid="notice" role="alert">
        Could not start the chat: {error instanceof Error ? error.message : String(error)}
      </p>,
    );
  },
);
