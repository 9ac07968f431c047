export { createGatewayApp } from "./app.ts";
export { type GatewayConfig, loadGatewayConfig } from "./config.ts";
export { type RunningGateway, startGateway } from "./start.ts";
