-- One database per service (each keeps its own outbox and processed-message tables); the image creates `catalog`.
CREATE DATABASE basket;
