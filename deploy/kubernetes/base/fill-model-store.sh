#!/bin/sh
# initContainer: fills the model store volume (/models) once, if it holds no archive yet.
#   MODEL_URLS   space-separated URLs (https://, http://) of .mar archives or .onnx models. An .onnx is archived
#                with model-archiver under its file name, with handler $MODEL_HANDLER (default tensor) and
#                /etc/modelserver/model-config.yaml when the ConfigMap has one (the GPU overlay's says deviceType: gpu).
#   unset        the demo archives built into the image.
# Files are written under a temporary name and renamed, so a server sharing the volume never sees half a file.
# MODEL_STORE, APP_DIR and CONFIG_DIR default to the folders of the Deployment (tests point them elsewhere).
set -eu
store=${MODEL_STORE:-/models}
app=${APP_DIR:-/app}
config=${CONFIG_DIR:-/etc/modelserver}
if ls "$store"/*.mar >/dev/null 2>&1; then
  echo "model store already holds: $(cd "$store" && ls -- *.mar | tr '\n' ' ')"
  exit 0
fi
if [ -z "${MODEL_URLS:-}" ]; then
  for f in "$app"/model_store/*.mar; do cp "$f" "$store/.$(basename "$f").part" && mv "$store/.$(basename "$f").part" "$store/$(basename "$f")"; done
  echo "model store filled with the demo archives"
  exit 0
fi
work=$(mktemp -d)
for url in $MODEL_URLS; do
  file=$(basename "${url%%\?*}")
  node -e '
    const [url, to] = process.argv.slice(1);
    fetch(url).then(async (r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      require("node:fs").writeFileSync(to, Buffer.from(await r.arrayBuffer()));
    }).catch((e) => { console.error(`cannot download ${url}: ${e.message}`); process.exit(1); });
  ' "$url" "$work/$file"
  case "$file" in
    *.mar) mv "$work/$file" "$store/.$file.part" && mv "$store/.$file.part" "$store/$file" ;;
    *.onnx)
      name=${file%.onnx}
      set -- --model-name "$name" --version "${MODEL_VERSION:-1.0}" --serialized-file "$work/$file" \
        --handler "${MODEL_HANDLER:-tensor}" --export-path "$work" -f
      [ -f "$config/model-config.yaml" ] && set -- "$@" --config-file "$config/model-config.yaml"
      node "$app/bin/model-archiver.js" "$@"
      mv "$work/$name.mar" "$store/.$name.mar.part" && mv "$store/.$name.mar.part" "$store/$name.mar" ;;
    *) echo "cannot add $url: expected a .mar or .onnx file" >&2; exit 1 ;;
  esac
  echo "added $file"
done
rm -rf "$work"
