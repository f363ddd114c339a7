# nginx in front of keydird for compose.yaml: Debian 12's nginx-light (TLS,
# HTTP/2), configured by deploy/nginx/keydir.conf, mounted by compose.yaml at
# /etc/nginx/conf.d/keydir.conf. Built locally like the keydird image, so no
# registry but Debian's archive is needed:
#   docker build -f deploy/docker/nginx.Dockerfile -t keydir-nginx deploy/docker
FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
# No default site; the logs go to the container's output (docker logs); the
# ACME webroot exists (a volume in compose.yaml).
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stdout /var/log/nginx/keydir-access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && install -d /var/www/acme
EXPOSE 80 443 11371
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
