// The server's entry point (`npm start`, dist/main.js): module loading is
// set up first (package-formats.ts), then serve.ts loads the rest and starts.
import "./package-formats.ts";

await import("./serve.ts");
