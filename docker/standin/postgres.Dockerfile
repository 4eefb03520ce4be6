# Stand-in for the official pgvector/pgvector:pg16 image, for machines that cannot pull it
# (scripts/container-test.sh): Debian 12's PostgreSQL 15 without pgvector, so the service stores
# embeddings in its real[] fallback. It honours the official image's interface where compose uses
# it: POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD, data in /var/lib/postgresql/data, port 5432,
# pg_isready, SIGINT (fast shutdown) to stop. Build context: docker/standin.
#
#   podman build -f docker/standin/postgres.Dockerfile \
#     --build-arg BASE_IMAGE=localhost/learning-standin/bookworm-slim:debootstrap \
#     -t localhost/learning-standin/postgresql-debian:15 docker/standin
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data \
    PATH=/usr/lib/postgresql/15/bin:$PATH
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]
