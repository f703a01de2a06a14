"use strict";

// The demo storefront: one shopper's history and recommendations, and
// "shop this look" on an uploaded photo, in English or Chinese.

const TEXT = {
  en: {
    title: "milliner demo storefront",
    shopperHeading: "Recommended for a shopper",
    pickShopper: "Pick a shopper",
    history: "Bought before",
    recommended: "Recommended",
    lookHeading: "Shop this look",
    uploadPhoto: "Upload a photo (JPEG, PNG or WebP)",
    blend: "Blend with the selected shopper's history",
    detected: "Detected head attire",
    similar: "Similar products",
    purchases: "purchases",
    loading: "Loading…",
    analysing: "Analysing the photo…",
    fallback: "No history the ranker learned from: showing popular items.",
    person: "Head found: the box shows the region that was searched.",
    product: "No person found: the whole photo was searched.",
    type: "Type", colour: "Colour", pattern: "Pattern", material: "Material",
    noShoppers: "No shoppers with purchases yet.",
    labels: "Labels",
    nothingWorn: "Nothing is worn on the head.",
    needsClassifier: "Labels need a trained classifier: run `milliner train classifier --data DIR`.",
  },
  "zh-CN": {
    title: "milliner 演示商店",
    shopperHeading: "为顾客推荐",
    pickShopper: "选择顾客",
    history: "购买过",
    recommended: "推荐",
    lookHeading: "按照片找同款",
    uploadPhoto: "上传照片（JPEG、PNG 或 WebP）",
    blend: "结合所选顾客的购买记录",
    detected: "识别到的头饰",
    similar: "相似商品",
    purchases: "件购买",
    loading: "加载中…",
    analysing: "正在分析照片…",
    fallback: "排序模型没有该顾客的购买记录：显示热门商品。",
    person: "找到了头部：方框是搜索的区域。",
    product: "没有找到人物：搜索了整张照片。",
    type: "类型", colour: "颜色", pattern: "图案", material: "材质",
    noShoppers: "还没有有购买记录的顾客。",
    labels: "标签",
    nothingWorn: "头上没有佩戴任何东西。",
    needsClassifier: "标签需要训练好的分类器：请运行 `milliner train classifier --data DIR`。",
  },
};

let language = "en";
let lastPhoto = null;

function text(key) {
  return TEXT[language][key];
}

async function api(path, options = {}) {
  const headers = Object.assign({ "Accept-Language": language }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.detail || body.title || `HTTP ${response.status}`);
  }
  return body;
}

function setStatus(id, message, isError = false) {
  const element = document.getElementById(id);
  element.textContent = message;
  element.classList.toggle("error", isError);
}

function card(item) {
  const element = document.createElement("div");
  element.className = "card";
  element.dataset.articleId = item.article_id;
  const image = document.createElement("img");
  image.alt = item.name;
  image.loading = "lazy";
  if (item.image_url) image.src = item.image_url;
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = item.name;
  const meta = document.createElement("div");
  meta.className = "meta";
  const labels = item.labels;
  meta.textContent = labels
    ? [labels.colour.display, labels.type.name === "none" ? item.product_type : labels.type.display].join(" · ")
    : item.product_type;
  element.append(image, name, meta);
  if (item.reason) {
    const reason = document.createElement("div");
    reason.className = "reason";
    reason.textContent = item.reason;
    element.append(reason);
  }
  return element;
}

function fill(id, items) {
  const grid = document.getElementById(id);
  grid.replaceChildren(...items.map(card));
}

function applyLanguage() {
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll("[data-text]")) {
    element.textContent = text(element.dataset.text);
  }
  document.getElementById("lang-en").classList.toggle("active", language === "en");
  document.getElementById("lang-zh").classList.toggle("active", language === "zh-CN");
}

async function loadShoppers() {
  const select = document.getElementById("shopper-select");
  const body = await api("/v1/customers?limit=20");
  select.replaceChildren(
    ...body.customers.map((customer) => {
      const option = document.createElement("option");
      option.value = customer.customer_id;
      option.textContent = `${customer.customer_id.slice(0, 12)}… (${customer.purchases})`;
      return option;
    })
  );
  if (body.customers.length === 0) setStatus("shopper-status", text("noShoppers"));
}

async function showShopper() {
  const customer = document.getElementById("shopper-select").value;
  if (!customer) return;
  setStatus("shopper-status", text("loading"));
  try {
    const [history, recommendations] = await Promise.all([
      api(`/v1/customers/${encodeURIComponent(customer)}/purchases?limit=6`),
      api(`/v1/customers/${encodeURIComponent(customer)}/recommendations?k=12&exclude_bought=true`),
    ]);
    fill("history", history);
    fill("recommendations", recommendations.items);
    setStatus("shopper-status", recommendations.fallback ? text("fallback") : "");
  } catch (error) {
    setStatus("shopper-status", error.message, true);
  }
}

function drawLook(bitmap, look) {
  const canvas = document.getElementById("look-canvas");
  const scale = Math.min(320 / bitmap.width, 480 / bitmap.height, 1);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  if (look && look.head_box) {
    // The box is in pixels of the upright photo the server decoded; the
    // browser also applies EXIF orientation, so the two sizes agree.
    const [left, top, right, bottom] = look.head_box;
    const sx = canvas.width / look.width;
    const sy = canvas.height / look.height;
    context.strokeStyle = "#b3261e";
    context.lineWidth = 3;
    const box = [left * sx, top * sy, (right - left) * sx, (bottom - top) * sy];
    context.strokeRect(...box);
    canvas.dataset.box = JSON.stringify(box.map(Math.round));
  } else {
    delete canvas.dataset.box;
  }
}

function showLabels(look) {
  const list = document.getElementById("look-labels");
  const rows = [];
  if (look.attire) {
    for (const task of ["type", "colour", "pattern", "material"]) {
      const label = look.attire[task];
      rows.push([text(task), `${label.display} (${Math.round(label.confidence * 100)}%)`]);
    }
  } else {
    rows.push([text("labels"), text(look.attire_note ? "needsClassifier" : "nothingWorn")]);
  }
  list.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    })
  );
}

async function shopLook() {
  if (!lastPhoto) return;
  setStatus("look-status", text("analysing"));
  const form = new FormData();
  form.append("photo", lastPhoto);
  const customer = document.getElementById("shopper-select").value;
  if (document.getElementById("blend-shopper").checked && customer) {
    form.append("customer_id", customer);
  }
  try {
    const [look, bitmap] = await Promise.all([
      api("/v1/looks?k=12", { method: "POST", body: form }),
      createImageBitmap(lastPhoto, { imageOrientation: "from-image" }),
    ]);
    drawLook(bitmap, look);
    showLabels(look);
    fill("look-items", look.items);
    setStatus("look-status", text(look.kind));
    document.getElementById("look-section").dataset.kind = look.kind;
  } catch (error) {
    setStatus("look-status", error.message, true);
  }
}

function switchLanguage(next) {
  language = next;
  applyLanguage();
  showShopper();
  shopLook();
}

document.getElementById("lang-en").addEventListener("click", () => switchLanguage("en"));
document.getElementById("lang-zh").addEventListener("click", () => switchLanguage("zh-CN"));
document.getElementById("shopper-select").addEventListener("change", showShopper);
document.getElementById("blend-shopper").addEventListener("change", shopLook);
document.getElementById("photo-input").addEventListener("change", (event) => {
  lastPhoto = event.target.files[0] || null;
  shopLook();
});

applyLanguage();
loadShoppers()
  .then(showShopper)
  .catch((error) => setStatus("shopper-status", error.message, true));
