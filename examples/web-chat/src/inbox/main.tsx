/** The agent inbox page (`/inbox`). */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Inbox } from "./inbox.js";
import "./inbox.css";

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <Inbox />
  </StrictMode>,
);
