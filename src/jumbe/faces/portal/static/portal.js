// Jumbe portal: two small enhancements; every page works without them.
// 1. A live character, encoding and parts count under a message box (data-counter).
// 2. Pages waiting for something (a message's receipt, an M-Pesa payment) reload
//    themselves every few seconds until it arrives (data-poll).
(function () {
  "use strict";
  // GSM 03.38: the basic set costs one septet, the extension set two.
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€\f";

  function count(text) {
    var septets = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (BASIC.indexOf(c) >= 0) { septets += 1; }
      else if (EXTENDED.indexOf(c) >= 0) { septets += 2; }
      else { return { encoding: "UCS-2", units: text.length, single: 70, multi: 67 }; }
    }
    return { encoding: "GSM-7", units: septets, single: 160, multi: 153 };
  }

  function describe(text) {
    var c = count(text);
    var parts = c.units <= c.single ? 1 : Math.ceil(c.units / c.multi);
    var noun = c.encoding === "GSM-7" ? "characters" : "UCS-2 characters";
    return c.units + " " + noun + " (" + c.encoding + "), " + parts + (parts === 1 ? " part" : " parts");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-counter]");
    Array.prototype.forEach.call(boxes, function (box) {
      var out = document.getElementById(box.getAttribute("data-counter"));
      var update = function () { out.textContent = describe(box.value); };
      box.addEventListener("input", update);
      update();
    });
    var waiting = document.querySelector("[data-poll]");
    if (waiting) {
      var every = parseInt(waiting.getAttribute("data-poll"), 10) || 2000;
      setTimeout(function () { window.location.reload(); }, every);
    }
  });
})();
