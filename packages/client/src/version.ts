/** The SDK version reported to the relay in the client record (kept in step with package.json). */
export const SDK_VERSION = "0.1.0";
