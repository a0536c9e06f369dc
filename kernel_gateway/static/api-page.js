// kernel_gateway's API page: Swagger UI over the gateway's own spec, offline.
// The token the page was opened with (?token=...) goes with the spec request and with every
// "Try it out" call, as an Authorization header.
(function () {
  "use strict";
  var script = document.currentScript;
  var token = new URLSearchParams(window.location.search).get("token") || "";

  function authorize(request) {
    if (token) {
      request.headers = request.headers || {};
      request.headers.Authorization = "token " + token;
    }
    return request;
  }

  function show(spec) {
    if (spec.swagger && !spec.basePath) {
      spec.basePath = script.dataset.base; // endpoints live where the spec is served
    }
    window.ui = SwaggerUIBundle({
      spec: spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      requestInterceptor: authorize,
    });
  }

  fetch(script.dataset.spec, authorize({ headers: {} }))
    .then(function (response) {
      if (!response.ok) {
        throw new Error(response.status + " " + response.statusText);
      }
      return response.json();
    })
    .then(show)
    .catch(function (error) {
      document.getElementById("swagger-ui").textContent =
        "Cannot load the API spec from " + script.dataset.spec + ": " + error.message;
    });
})();
