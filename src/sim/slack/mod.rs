//! A Slack-compatible server: Web API, Socket Mode WebSocket, response URLs.
