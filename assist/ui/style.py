"""Look and small browser helpers: local Korean fonts (nothing fetched), calm colors, and
scripts for copying, a denied microphone and a lost connection (Korean banners)."""
from __future__ import annotations

import gradio as gr

__all__ = ["theme", "CSS", "HEAD"]

FONTS = ["NanumBarunGothic", "NanumGothic", "Apple SD Gothic Neo", "Malgun Gothic", "sans-serif"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", radius_size="md",
                          font=FONTS, font_mono=["NanumGothicCoding", "monospace"]).set(
        body_text_size="14px", block_label_text_size="12.5px", block_title_text_size="12.5px",
        block_title_background_fill="transparent", block_title_text_color="*neutral_600",
        block_title_padding="0", block_label_background_fill="transparent",
        block_label_text_color="*neutral_600", block_title_text_weight="600",
        button_large_padding="8px 14px", layout_gap="10px")


CSS = """
.gradio-container { max-width: 1180px !important; }
#agent-panel { max-width: 460px; margin: 0 auto; gap: 8px; }
#agent-panel .html-container { padding: 0 !important; }
#status-row { gap: 6px; align-items: center; flex-wrap: nowrap; }
#call-end { align-self: center; max-height: 40px; }
#login-box { max-width: 360px; margin: 8vh auto 0; }
#app-header { align-items: center; gap: 8px; flex-wrap: nowrap; }
#app-header .ca-brand { font-weight: 700; font-size: 16px; color: #312e81; white-space: nowrap; }
#user-label { text-align: right; font-size: 12.5px; color: #475569; }
#logout { flex: 0 0 auto !important; }
.ca-status { display: flex; align-items: center; gap: 8px; padding: 8px 10px; border-radius: 8px;
  background: #f1f5f9; font-size: 13.5px; flex-wrap: wrap; }
.ca-status .dot { width: 9px; height: 9px; border-radius: 50%; background: #94a3b8; }
.ca-status.live { background: #ecfdf5; }
.ca-status.live .dot { background: #10b981; box-shadow: 0 0 0 3px #a7f3d0; }
.ca-status .clock { font-variant-numeric: tabular-nums; color: #334155; }
.ca-status .src { color: #64748b; font-size: 12px; margin-left: auto; }
.ca-status.idle { display: block; color: #475569; }
.ca-notice { margin-top: 6px; padding: 8px 10px; border-radius: 8px; background: #fff7ed;
  color: #9a3412; font-size: 13px; }
.ca-alerts { display: flex; flex-direction: column; gap: 6px; }
.ca-alert { border-radius: 8px; padding: 8px 10px; border-left: 5px solid; font-size: 13.5px; }
.ca-alert .head { font-weight: 700; font-size: 12px; margin-bottom: 2px; }
.ca-alert .tip { margin-top: 4px; color: #334155; }
.ca-alert.sev-critical { background: #fef2f2; border-color: #dc2626; color: #7f1d1d; }
.ca-alert.sev-warn { background: #fffbeb; border-color: #f59e0b; color: #78350f; }
.ca-alert.sev-info { background: #eff6ff; border-color: #3b82f6; color: #1e3a8a; }
.ca-transcript { height: 168px; overflow-y: auto; display: flex; flex-direction: column-reverse;
  gap: 5px; padding: 8px 10px; border: 1px solid #e2e8f0; border-radius: 10px; background: #fbfdff; }
.ca-transcript.empty { color: #94a3b8; font-size: 13px; justify-content: center; text-align: center; }
.ca-turn { font-size: 13.5px; line-height: 1.5; word-break: keep-all; overflow-wrap: anywhere; }
.ca-turn .who { display: inline-block; min-width: 40px; font-size: 11.5px; font-weight: 700;
  margin-right: 6px; padding: 1px 6px; border-radius: 6px; text-align: center; }
.ca-turn.customer .who { background: #dbeafe; color: #1d4ed8; }
.ca-turn.agent .who { background: #d1fae5; color: #047857; }
.ca-turn.agent .text { color: #334155; }
.ca-turn.partial .text { color: #94a3b8; font-style: italic; }
.ca-insight { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.ca-insight > div { border: 1px solid #e2e8f0; border-radius: 10px; padding: 8px 10px; background: #fff; }
.ca-insight .lbl, .ca-line .lbl, .ca-section { font-size: 11.5px; color: #64748b; font-weight: 700; }
.ca-insight .val { font-size: 15px; font-weight: 700; color: #0f172a; margin: 2px 0 4px; }
.ca-insight .val.muted { color: #94a3b8; font-weight: 400; font-size: 13px; }
.ca-insight .conf { height: 6px; background: #e2e8f0; border-radius: 3px; overflow: hidden; }
.ca-insight .conf span { display: block; height: 100%; background: #6366f1; }
.ca-insight .conf.other span { background: #cbd5e1; }
.ca-insight .pct { font-size: 11.5px; color: #64748b; margin-top: 3px; }
.ca-mood .trend { font-size: 12px; font-weight: 400; color: #475569; }
.ca-mood .gauge { position: relative; height: 6px; border-radius: 3px;
  background: linear-gradient(90deg, #f87171, #e2e8f0 50%, #34d399); }
.ca-mood .gauge .marker { position: absolute; top: -3px; width: 4px; height: 12px; margin-left: -2px;
  border-radius: 2px; background: #0f172a; }
.ca-mood.neg .val { color: #b91c1c; } .ca-mood.pos .val { color: #047857; }
.ca-mood .spark { display: block; margin-top: 4px; }
.ca-mood .spark polyline { fill: none; stroke: #6366f1; stroke-width: 1.6; }
.ca-mood .spark .mid { stroke: #cbd5e1; stroke-dasharray: 2 2; }
.ca-card { border: 1px solid #e2e8f0 !important; border-radius: 10px !important; background: #fff;
  padding: 0 !important; }
.ca-card > div, .ca-card .block, .ca-card .form, .ca-card .row { background: #fff !important;
  border: none !important; box-shadow: none !important; }
#card-0 { border-color: #a5b4fc !important; box-shadow: 0 1px 3px rgba(79, 70, 229, .12) !important; }
#card-0 .rank { background: #4f46e5; color: #fff; }
.ca-card-body { padding: 9px 12px 2px; }
.ca-card-body .title { font-weight: 700; font-size: 14px; color: #1e1b4b; margin-bottom: 4px; }
.ca-card-body .rank { display: inline-block; width: 18px; height: 18px; line-height: 18px;
  border-radius: 50%; background: #e0e7ff; color: #3730a3; font-size: 11px; text-align: center;
  margin-right: 6px; }
.ca-card-body .say { font-size: 14.5px; line-height: 1.6; color: #0f172a; white-space: pre-wrap;
  word-break: keep-all; overflow-wrap: anywhere; }
.ca-card-body.rank-2 .say, .ca-card-body.rank-3 .say { display: -webkit-box; -webkit-line-clamp: 3;
  -webkit-box-orient: vertical; overflow: hidden; font-size: 13.5px; }
.ca-card-body .why { font-size: 11.5px; color: #64748b; margin-top: 5px; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.ca-card-actions { gap: 6px !important; padding: 4px 10px 8px !important; justify-content: flex-end; }
.ca-card-actions button { flex: 0 0 auto !important; min-width: 44px !important;
  padding: 3px 10px !important; font-size: 12.5px !important; min-height: 0 !important; }
.ca-id { font-size: 11px; color: #94a3b8; padding: 0 12px 8px; }
.ca-kb-results { display: flex; flex-direction: column; gap: 8px; }
.ca-line { border-radius: 10px; background: #eef2ff; padding: 8px 12px; }
.ca-line .say { font-size: 14.5px; line-height: 1.55; color: #1e1b4b; }
.ca-flow { border: 1px solid #e2e8f0; border-radius: 10px; padding: 8px 10px; background: #fff; }
.ca-stages { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
.ca-stage { font-size: 11.5px; padding: 2px 8px; border-radius: 999px; background: #f1f5f9; color: #94a3b8; }
.ca-stage.done { background: #e0e7ff; color: #4338ca; }
.ca-stage.now { background: #4f46e5; color: #fff; font-weight: 700; }
.ca-check { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: 1fr 1fr;
  gap: 2px 10px; font-size: 12.5px; }
.ca-check li { color: #475569; } .ca-check li .mark { display: inline-block; width: 16px; font-weight: 700; }
.ca-check li.done { color: #047857; } .ca-check li.na { color: #cbd5e1; }
.ca-section { margin: 6px 0 2px; }
.ca-hint { font-size: 12px; color: #64748b; padding: 6px 10px; }
.ca-msg { border-radius: 8px; padding: 7px 10px; font-size: 13px; margin: 2px 0; }
.ca-msg.info { background: #f1f5f9; color: #334155; } .ca-msg.ok { background: #ecfdf5; color: #065f46; }
.ca-msg.warn { background: #fffbeb; color: #92400e; } .ca-msg.error { background: #fef2f2; color: #991b1b; }
.ca-msg ul { margin: 4px 0 0 18px; padding: 0; }
.ca-preview { border: 1px dashed #c7d2fe; border-radius: 10px; padding: 4px; background: #fafaff; }
.ca-diff { font-family: NanumGothicCoding, monospace; font-size: 12.5px; white-space: pre-wrap;
  border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px; max-height: 320px; overflow: auto; }
.ca-diff span { display: block; min-height: 1.3em; }
.ca-diff .add { background: #dcfce7; } .ca-diff .del { background: #fee2e2; } .ca-diff .hunk { color: #6366f1; }
.ca-diff .add mark { background: #86efac; color: inherit; } .ca-diff .del mark { background: #fca5a5; color: inherit; }
.ca-metrics { border-collapse: collapse; font-size: 13px; width: 100%; margin: 4px 0 8px;
  border: none !important; }
.ca-metrics tr, .ca-metrics th, .ca-metrics td { border-left: none !important;
  border-right: none !important; }
.ca-metrics th, .ca-metrics td { border-bottom: 1px solid #e2e8f0; padding: 4px 8px; text-align: right; }
.ca-metrics th:first-child, .ca-metrics td:first-child { text-align: left; }
.ca-metrics .better { color: #047857; font-weight: 700; } .ca-metrics .worse { color: #b91c1c; font-weight: 700; }
#ca-banner { position: fixed; left: 12px; right: 12px; bottom: 12px; z-index: 1000; padding: 10px 14px;
  border-radius: 10px; background: #7f1d1d; color: #fff; font-size: 13.5px; display: none; }
#ca-banner button { margin-left: 10px; background: transparent; color: #fff; border: 1px solid #fff;
  border-radius: 6px; padding: 0 8px; }
#kb-results .wrap { max-height: 560px; overflow-y: auto; display: flex; flex-direction: column;
  flex-wrap: nowrap; gap: 4px; }
#kb-results label { font-size: 13px; padding: 6px 10px; }
.block:has(> .html-container > .prose:empty) { display: none !important; }
footer { display: none !important; }
/* One tab only (agents): no tab bar, the panel starts right under the header. */
#tabs .tab-wrapper:has([role=tablist] > button[role=tab]:only-of-type) { display: none; }
"""

HEAD = """
<script>
(function () {
  function banner(text) {
    var el = document.getElementById('ca-banner');
    if (!el) {
      el = document.createElement('div'); el.id = 'ca-banner'; el.setAttribute('role', 'alert');
      document.body.appendChild(el);
    }
    if (!text) { el.style.display = 'none'; return; }
    el.textContent = text;
    var close = document.createElement('button'); close.textContent = '닫기';
    close.onclick = function () { el.style.display = 'none'; };
    el.appendChild(close); el.style.display = 'block';
  }
  window.caBanner = banner;
  window.caCopy = function (id) {
    var el = document.getElementById(id); if (!el) return;
    var text = el.innerText;
    function fallback() {
      var area = document.createElement('textarea'); area.value = text;
      document.body.appendChild(area); area.select();
      try { document.execCommand('copy'); } catch (e) {}
      area.remove();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).catch(fallback);
    } else { fallback(); }
  };
  var media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    var original = media.getUserMedia.bind(media);
    media.getUserMedia = function (constraints) {
      return original(constraints).then(function (stream) { return stream; }, function (err) {
        var name = (err && err.name) || '';
        banner(name === 'NotFoundError'
          ? '마이크를 찾을 수 없습니다. 마이크를 연결한 뒤 다시 시도해 주세요. 녹음 파일이나 데모 통화는 계속 쓸 수 있습니다.'
          : '마이크 권한이 거부되었습니다. 주소창 왼쪽의 사이트 설정에서 마이크를 허용한 뒤 다시 시도해 주세요. 녹음 파일이나 데모 통화는 계속 쓸 수 있습니다.');
        throw err;
      });
    };
  }
  window.addEventListener('offline', function () {
    banner('서버와의 연결이 끊어졌습니다. 통화는 서버에서 계속 진행됩니다. 연결이 돌아오면 페이지를 새로 고쳐 주세요.');
  });
  window.addEventListener('online', function () {
    banner('다시 연결되었습니다. 페이지를 새로 고치면 진행 중인 통화 화면이 돌아옵니다.');
  });
})();
</script>
"""
