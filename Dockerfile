# Build: one self-contained executable with the built-in handlers and default rascal.json.
FROM oven/bun:1.4.4 AS build
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY . .
RUN bun run build

# Run: the binary only, as a non-root user. Bun's executables need nothing but glibc, which
# distroless/base provides (no shell, no package manager, no curl: the binary checks itself).
FROM gcr.io/distroless/base-debian12:nonroot
WORKDIR /app
COPY --from=build /app/dist/order-pipeline /app/order-pipeline
ENV PORT=3000
EXPOSE 3000
USER nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/app/order-pipeline", "healthcheck"]
# No arguments: the service. Any argument: an operator command (`docker run … dead-letters list`).
ENTRYPOINT ["/app/order-pipeline"]
