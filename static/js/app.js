// Support Intel dashboard behaviour. htmx does the swapping; this file only configures it and adds
// the copy button. Everything still works as plain links and forms without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  if (window.htmx) {
    // Form errors come back as 422 with the form re-rendered: swap them in like a success.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
    // Re-fetch the full page when going back to a URL not in htmx's history cache.
    htmx.config.refreshOnHistoryMiss = true;
  }
});

document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.textContent;
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
    selection.removeAllRanges();
    done();
  }
});
